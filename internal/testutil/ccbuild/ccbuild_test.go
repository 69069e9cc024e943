package ccbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExpand: sources are found from the repository's root, globs
// included, and one that names nothing is an error, not a build of less.
func TestExpand(t *testing.T) {
	srcs, err := expand([]string{"cmd/berth-nsenter/*.c", "cmd/berth-stage/decode.c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) < 2 || filepath.Base(srcs[len(srcs)-1]) != "decode.c" {
		t.Fatalf("expanded to %q", srcs)
	}
	for _, s := range srcs {
		if _, err := os.Stat(s); err != nil || !strings.HasSuffix(s, ".c") {
			t.Errorf("%s: %v", s, err)
		}
	}
	if srcs, err := expand([]string{"cmd/berth-nsenter/*.c", "cmd/no-such-program/*.c"}); err == nil {
		t.Errorf("a glob naming nothing expanded to %q", srcs)
	}
}
