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

// ParseMonitorExitedArgs reads back what MonitorExitedArgs writes with
// berth-monitor's status appended, and nothing else.
func TestParseMonitorExitedArgs(t *testing.T) {
	e := New(Options{Root: "/r", Runroot: "/s", StorageDriver: "overlay"})
	args := append(e.MonitorExitedArgs("abc", 7), "256")
	opts, id, lock, status, stopped, ok := ParseMonitorExitedArgs(args)
	if !ok || id != "abc" || lock != 7 || status != 256 || stopped || opts.Root != "/r" || opts.Runroot != "/s" || opts.StorageDriver != "overlay" {
		t.Errorf("ParseMonitorExitedArgs(%q) = %+v %q %d %d %v %v", args, opts, id, lock, status, stopped, ok)
	}
	if _, _, _, _, stopped, ok := ParseMonitorExitedArgs(append(args, "--stopped")); !ok || !stopped {
		t.Errorf("ParseMonitorExitedArgs(%q --stopped) = %v %v", args, stopped, ok)
	}
	if _, _, _, ok := ParseMonitorArgs(args); ok {
		t.Errorf("ParseMonitorArgs took %q", args)
	}
	base := []string{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "7", "--status"}
	for _, args := range [][]string{
		base, // no status
		append(append([]string{}, base...), "x"),
		append(append([]string{}, base...), "-1"),
		append(append([]string{}, base...), "0", "extra"),
		append(append([]string{}, base...), "0", "--stopped", "--stopped"),
		append(append([]string{}, base...), "--stopped", "0"),
		{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "3", "--status", "0"}, // the lifetime lock's fd
		{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "x", "--status", "0"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--status", "0"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor", "--id", "abc", "--state-lock", "7", "--status", "0"},
		{"--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "7", "--status", "0"},
	} {
		if _, _, _, _, _, ok := ParseMonitorExitedArgs(args); ok {
			t.Errorf("ParseMonitorExitedArgs(%q) took it", args)
		}
	}
}
