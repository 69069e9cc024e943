package snapshot

import "testing"

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		release string
		want    bool
	}{
		{"6.18.0", true}, {"5.11.0-rc1", true}, {"5.10.209-amd64", false}, {"4.19.0", false}, {"5.12", true}, {"junk", false}, {"", false},
	} {
		if got := kernelAtLeast(c.release, 5, 11); got != c.want {
			t.Errorf("%q: got %v, want %v", c.release, got, c.want)
		}
	}
}
