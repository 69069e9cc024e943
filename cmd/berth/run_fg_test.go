package main

import "testing"

func TestParseAttach(t *testing.T) {
	for _, c := range []struct {
		attach               []string
		openStdin            bool
		stdin, stdout, stder bool
	}{
		{nil, false, false, true, true},
		{nil, true, true, true, true},
		{[]string{"stdout"}, true, false, true, false},
		{[]string{"STDERR", "stdin"}, true, true, false, true},
		{[]string{"stdin"}, false, false, false, false},
	} {
		f := fgFlags{attach: c.attach}
		if err := f.parseAttach(c.openStdin); err != nil || f.stdin != c.stdin || f.stdout != c.stdout || f.stderr != c.stder {
			t.Errorf("-a %v (-i %v): %+v %v", c.attach, c.openStdin, f, err)
		}
	}
	f := fgFlags{attach: []string{"stdio"}}
	if err := f.parseAttach(false); err == nil {
		t.Error("-a stdio accepted")
	}
}
