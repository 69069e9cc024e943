package spec_test

import (
	"math"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
)

func FuzzScratchParseSize(f *testing.F) {
	for _, s := range []string{"256m", "1.5g", "1GiB", "10b", "100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := spec.ParseSize(s)
		if err == nil && n < 0 && n != math.MinInt64 {
			t.Errorf("ParseSize(%q) = %d", s, n)
		}
	})
}
