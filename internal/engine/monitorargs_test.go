package engine

import (
	"reflect"
	"testing"
)

// ParseMonitorArgs reads back exactly what MonitorArgs writes, and
// nothing else: any other command line goes to the command tree.
func TestParseMonitorArgs(t *testing.T) {
	for _, c := range []struct {
		e       *Engine
		restore *Restore
	}{
		{New(Options{Root: "/var/lib/berth", Runroot: "/run/berth"}), nil},
		{New(Options{Root: "/r", Runroot: "/s", StorageDriver: "vfs"}), &Restore{Dir: "/ck"}},
		{New(Options{Root: "/r", Runroot: "/s"}), &Restore{Dir: "/ck", TCPEstablished: true}},
	} {
		args := c.e.MonitorArgs("abc", c.restore)
		opts, id, restore, ok := ParseMonitorArgs(args)
		if !ok || id != "abc" || opts.Root != c.e.Root || opts.Runroot != c.e.Runroot ||
			opts.StorageDriver != c.e.StorageDriver || !reflect.DeepEqual(restore, c.restore) {
			t.Errorf("ParseMonitorArgs(%q) = %+v %q %+v %v", args, opts, id, restore, ok)
		}
	}
	for _, args := range [][]string{
		nil,
		{"run", "--monitor", "--id", "abc"}, // no directories
		{"--root", "/r", "--runroot", "/s", "run", "--rm", "busybox"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor", "--id"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor", "--id", "abc", "--rm"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor", "--id", "abc", "--restore"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor", "--id", "abc", "--restore", "/ck", "x"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor", "--id", "abc", "--restore", "/ck", "--restore-tcp-established", "x"},
		{"--root", "--runroot", "/s", "run", "--monitor", "--id", "abc"},
		{"--debug", "--root", "/r", "--runroot", "/s", "run", "--monitor", "--id", "abc"},
		{"--root", "/r", "--runroot", "/s", "ps", "--monitor", "--id", "abc"},
	} {
		if _, _, _, ok := ParseMonitorArgs(args); ok {
			t.Errorf("ParseMonitorArgs(%q) took it as a monitor's command line", args)
		}
	}
}
