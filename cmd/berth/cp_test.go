package main

import "testing"

// TestSplitContainerPath reads CONTAINER:PATH as docker cp does: a local
// path starting with / or . may hold a colon.
func TestSplitContainerPath(t *testing.T) {
	for _, tc := range []struct {
		arg, ref, path string
		ok             bool
	}{
		{"web:/etc/passwd", "web", "/etc/passwd", true},
		{"web:", "web", "", true},
		{"./a:b", "", "./a:b", false},
		{"/tmp/a:b", "", "/tmp/a:b", false},
		{"file", "", "file", false},
		{"-", "", "-", false},
	} {
		ref, p, ok := splitContainerPath(tc.arg)
		if ref != tc.ref || p != tc.path || ok != tc.ok {
			t.Errorf("%q: %q %q %v, want %q %q %v", tc.arg, ref, p, ok, tc.ref, tc.path, tc.ok)
		}
	}
}
