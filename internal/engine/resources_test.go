package engine

import "testing"

func TestCgroupParentPath(t *testing.T) {
	good := map[string]string{
		"":             "",
		"/mygroup":     "/mygroup/ID",
		"a/b":          "/a/b/ID",
		"my.slice":     "/my.slice/berth-ID.scope",
		"my-sub.slice": "/my.slice/my-sub.slice/berth-ID.scope",
	}
	for in, want := range good {
		if got, err := cgroupParentPath(in, "ID"); err != nil || got != want {
			t.Errorf("cgroupParentPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/", "..", "../x", "/a/../../b", "a/./b", "a//b", "x:y", "a:b.slice"} {
		if got, err := cgroupParentPath(in, "ID"); err == nil {
			t.Errorf("cgroupParentPath(%q) = %q, accepted", in, got)
		}
	}
}
