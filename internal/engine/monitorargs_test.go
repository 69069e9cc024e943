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
// berth-monitor's status appended, the network's files too, and nothing
// else: every descriptor above the monitor's own and named once.
func TestParseMonitorExitedArgs(t *testing.T) {
	e := New(Options{Root: "/r", Runroot: "/s", StorageDriver: "overlay"})
	for _, held := range []*HeldNetwork{nil, {Name: "bridge", Lock: 8}, {Name: "front", Lock: 9, Ports: []int{10, 12}}} {
		args := append(e.MonitorExitedArgs("abc", 7, held), "256")
		opts, x, ok := ParseMonitorExitedArgs(args)
		want := Exited{ID: "abc", StateLock: 7, Network: held, Status: 256}
		if !ok || !reflect.DeepEqual(x, want) || opts.Root != "/r" || opts.Runroot != "/s" || opts.StorageDriver != "overlay" {
			t.Errorf("ParseMonitorExitedArgs(%q) = %+v %+v %v", args, opts, x, ok)
		}
		if _, x, ok := ParseMonitorExitedArgs(append(args, "--stopped")); !ok || !x.Stopped {
			t.Errorf("ParseMonitorExitedArgs(%q --stopped) = %+v %v", args, x, ok)
		}
		if _, _, _, ok := ParseMonitorArgs(args); ok {
			t.Errorf("ParseMonitorArgs took %q", args)
		}
	}
	base := []string{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "7"}
	line := func(words ...string) []string { return append(append([]string{}, base...), words...) }
	for _, args := range [][]string{
		line("--status"), // no status
		line("--status", "x"),
		line("--status", "-1"),
		line("--status", "0", "extra"),
		line("--status", "0", "--stopped", "--stopped"),
		line("--status", "--stopped", "0"),
		{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "3", "--status", "0"}, // the lifetime lock's fd
		{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "x", "--status", "0"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "07", "--status", "0"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--status", "0"},
		{"--root", "/r", "--runroot", "/s", "run", "--monitor", "--id", "abc", "--state-lock", "7", "--status", "0"},
		{"--runroot", "/s", "run", "--monitor-exited", "--id", "abc", "--state-lock", "7", "--status", "0"},
		line("--network", "--net-lock", "8", "--status", "0"),
		line("--network", "bridge", "--status", "0"),
		line("--network", "bridge", "--net-lock", "--status", "0"),
		line("--network", "bridge", "--net-lock", "7", "--status", "0"), // the state lock's
		line("--network", "bridge", "--net-lock", "4", "--status", "0"), // the ready pipe's
		line("--network", "bridge", "--net-lock", "8", "--held", "--status", "0"),
		line("--network", "bridge", "--net-lock", "8", "--held", "", "--status", "0"),
		line("--network", "bridge", "--net-lock", "8", "--held", "9,", "--status", "0"),
		line("--network", "bridge", "--net-lock", "8", "--held", "9,9", "--status", "0"),
		line("--network", "bridge", "--net-lock", "8", "--held", "9,8", "--status", "0"),
		line("--network", "bridge", "--net-lock", "8", "--held", "9,+10", "--status", "0"),
		line("--network", "bridge", "--net-lock", "8", "--held", "9", "--held", "10", "--status", "0"),
		line("--net-lock", "8", "--status", "0"),
		line("--held", "9", "--status", "0"),
		line("--status", "0", "--network", "bridge", "--net-lock", "8"),
		line("--network", "bridge", "--net-lock", "8", "--network", "front", "--net-lock", "9", "--status", "0"),
	} {
		if _, _, ok := ParseMonitorExitedArgs(args); ok {
			t.Errorf("ParseMonitorExitedArgs(%q) took it", args)
		}
	}
}
