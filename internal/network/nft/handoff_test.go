package nft

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestMain lets this test binary be the holder HandOff starts, as berth's
// main does.
func TestMain(m *testing.M) {
	HoldStage()
	os.Exit(m.Run())
}

func TestParseNetlinkInodes(t *testing.T) {
	const table = `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
00000000db8c15ef 0   0          00000000 0        0        0     2        0        4
00000000a0b1c2d3 12  4042       00000000 0        0        0     2        0        77001
00000000a0b1c2d4 12  4043       00000000 0        0        0     2        0        77002
00000000a0b1c2d5 16  4044       00000000 0        0        0     2        0        77003
truncated line
`
	got, err := parseNetlinkInodes(strings.NewReader(table), unix.NETLINK_NETFILTER)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["77001"] || !got["77002"] {
		t.Errorf("netfilter sockets' inodes: %v, want 77001 and 77002", got)
	}
}

// TestHandOff: once this process committed, HandOff starts a holder that
// holds this process's netfilter sockets, the same sockets, with none of
// the caller's standard streams or other descriptors, in a session of its
// own, and that stays while this process lives; without a commit it
// starts none.
func TestHandOff(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a holder of netfilter sockets)")
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mine := socketLinks(t, os.Getpid())
	if len(mine) == 0 {
		t.Fatal("no netfilter socket found in this process")
	}

	committed.Store(false)
	if err := HandOff(); err != nil {
		t.Fatal(err)
	}
	if pid := holderOf(os.Getpid()); pid != 0 {
		t.Fatalf("a holder (%d) without a commit", pid)
	}

	// A descriptor left open across exec, as a caller may leave one.
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	inherited, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", pipe[0]))

	committed.Store(true)
	defer committed.Store(false)
	if err := HandOff(); err != nil {
		t.Fatal(err)
	}
	pid := holderOf(os.Getpid())
	if pid == 0 {
		t.Fatal("no holder after HandOff")
	}
	defer func() {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil)
	}()
	// The holder's own start takes a moment; then it waits for us.
	time.Sleep(200 * time.Millisecond)
	held := map[string]bool{}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil {
			held[link] = true
		}
	}
	for link := range mine {
		if !held[link] {
			t.Errorf("the holder does not hold %s (it holds %v)", link, held)
		}
	}
	if held[inherited] {
		t.Errorf("the holder holds the caller's %s", inherited)
	}
	// Given closed, Go's runtime opens them on /dev/null as it starts.
	for fd := 0; fd < 3; fd++ {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); err == nil && link != "/dev/null" {
			t.Errorf("the holder's fd %d is %s, want closed or /dev/null", fd, link)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("the holder exited while this process lives: %v", err)
	}
	// pid (comm) state ppid pgrp session
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if sid, _ := strconv.Atoi(fields[3]); sid != pid {
		t.Errorf("the holder's session is %d, want its own (%d)", sid, pid)
	}
}

// socketLinks are process pid's netfilter sockets of its network
// namespace, as /proc/PID/fd links.
func socketLinks(t *testing.T, pid int) map[string]bool {
	t.Helper()
	socks, err := netfilterSockets(strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]bool{}
	for _, link := range socks {
		links[link] = true
	}
	return links
}

// holderOf is the PID of the holder HandOff started for process pid, or 0.
func holderOf(pid int) int {
	marker := []byte(fmt.Sprintf("%s=%d\x00", holderEnv, pid))
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range envs {
		if env, err := os.ReadFile(p); err == nil && bytes.HasPrefix(env, marker) {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return n
		}
	}
	return 0
}
