package build

import (
	"slices"
	"testing"
)

// TestNeededBindFrom: a stage read only through RUN --mount=from= is
// built before the target; one nothing reads is skipped.
func TestNeededBindFrom(t *testing.T) {
	b := mustParse(t, "FROM x AS tools\nRUN true\nFROM x AS unused\nRUN true\nFROM x AS src\nFROM x\n"+
		"RUN --mount=type=bind,from=tools,target=/t --mount=type=cache,target=/c true\nCOPY --from=src /a /a\n")
	if got := b.needed(3); !slices.Equal(got, []int{0, 2, 3}) {
		t.Errorf("needed: %v, want [0 2 3]", got)
	}
}
