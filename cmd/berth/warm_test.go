package main

import "testing"

func TestStartsContainer(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "--rm", "busybox"}, true},
		{[]string{"--root", "/r", "create", "busybox"}, true},
		{[]string{"start", "-a", "x"}, true},
		{[]string{"restart", "x"}, true},
		{[]string{"ps", "-a"}, false},
		{[]string{"images"}, false},
		{nil, false},
	} {
		if got := startsContainer(c.args); got != c.want {
			t.Errorf("startsContainer(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
