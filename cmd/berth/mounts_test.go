package main

import (
	"slices"
	"testing"
)

// TestAbsVolumes: -v ./dir:/x and ../dir:/x are host directories under the
// current directory, as in docker; names, absolute paths and anonymous
// volumes are left as they are.
func TestAbsVolumes(t *testing.T) {
	in := []string{"./data:/x", "../up:/y:ro", ".:/z", "..:/w", "name:/v", "/abs:/a", "/anon", ".hidden:/h", "./a/../b:/c"}
	want := []string{"/home/u/work/data:/x", "/home/u/up:/y:ro", "/home/u/work:/z", "/home/u:/w", "name:/v", "/abs:/a", "/anon", ".hidden:/h", "/home/u/work/b:/c"}
	if got := absVolumes(in, "/home/u/work"); !slices.Equal(got, want) {
		t.Errorf("absVolumes:\n%q\nwant\n%q", got, want)
	}
	m := mountFlags{volumes: []string{"./data:/x"}}
	reqs, err := m.parse()
	if err != nil || len(reqs) != 1 || reqs[0].Source[0] != '/' {
		t.Errorf("-v ./data:/x: %+v %v", reqs, err)
	}
}
