package build

import "testing"

// TestLinkKey: a --link layer's key holds what lands (destination, owner,
// mode, contents) and nothing of the stage below.
func TestLinkKey(t *testing.T) {
	cs := &copySpec{dest: "/opt/", destIsDir: true}
	k := linkKey("context", cs, "", false, "d1")
	if linkKey("context", &copySpec{dest: "/opt/", destIsDir: true}, "", false, "d1") != k {
		t.Error("the same inputs gave another key")
	}
	owned := &copySpec{dest: "/opt/", destIsDir: true, owner: &[2]int{1000, 10}}
	for name, other := range map[string]string{
		"contents": linkKey("context", cs, "", false, "d2"),
		"dest":     linkKey("context", &copySpec{dest: "/srv/", destIsDir: true}, "", false, "d1"),
		"owner":    linkKey("context", owned, "", false, "d1"),
		"chmod":    linkKey("context", cs, "0755", false, "d1"),
		"source":   linkKey("sha256:stage", cs, "", false, "d1"),
	} {
		if other == k {
			t.Errorf("a different %s kept the key", name)
		}
	}
}
