package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/pidfd"
	"golang.org/x/sys/unix"
)

// ErrNotEmpty means a config names an existing cgroup that holds
// processes: a container never shares a cgroup, as runc refuses it since
// 1.2 (1.1 warned). The OCI spec has no way to ask to join one.
var ErrNotEmpty = errors.New("container's cgroup is not empty")

// ErrFrozen means a config names an existing cgroup that is frozen: the
// container could never start in it (runc refuses it too).
var ErrFrozen = errors.New("container's cgroup unexpectedly frozen")

// ErrForeign means the operation would freeze, kill or remove a cgroup that
// berth did not create.
var ErrForeign = errors.New("foreign cgroup")

// Claim finds which of the cgroup's directories exist already, before the
// container is created, and records them as Foreign: berth uses them, but
// never kills their processes, freezes or removes them. An existing
// directory must hold no process, in it or below it, and must not be
// frozen. Missing directories are left for Create.
func (c *Cgroup) Claim() error {
	c.Foreign = nil
	for _, d := range c.Dirs {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("cgroup %s: %w", d, err)
		}
		// runc compat: runc's tests match the sentinels' texts.
		if n := len(procsUnder(d)); n > 0 {
			return fmt.Errorf("%w: %d process(es) found in %s (cgroupsPath %s): give the container a cgroup of its own", ErrNotEmpty, n, d, c.Path)
		}
		if frozenDir(d) {
			return fmt.Errorf("%w: %s (cgroupsPath %s) is frozen: thaw it, or give the container a cgroup of its own", ErrFrozen, d, c.Path)
		}
		c.Foreign = append(c.Foreign, d)
	}
	return nil
}

// Owned reports whether berth created every directory of the cgroup, and
// so may freeze it and kill what is in it.
func (c *Cgroup) Owned() bool { return len(c.Dirs) > 0 && len(c.Foreign) == 0 }

func (c *Cgroup) owns(dir string) bool {
	for _, f := range c.Foreign {
		if f == dir {
			return false
		}
	}
	return true
}

// disown marks dir foreign when creating it failed because it exists: it
// appeared since Claim, so it is someone else's, and the clean-up of the
// failed creation must leave it.
func (c *Cgroup) disown(dir string, err error) {
	if errors.Is(err, unix.EEXIST) {
		c.Foreign = append(c.Foreign, dir)
	}
}

func (c *Cgroup) errForeign(what string) error {
	return fmt.Errorf("the container's cgroup %s existed before it: berth does not %s a cgroup it did not create: %w", c.Path, what, ErrForeign)
}

// frozenDir reports whether a cgroup directory is frozen (or freezing),
// whichever version it is.
func frozenDir(dir string) bool {
	if n, err := readKey(filepath.Join(dir, "cgroup.events"), "frozen"); err == nil {
		return n == 1
	}
	b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	return err == nil && strings.TrimSpace(string(b)) != "THAWED"
}

// procsUnder lists the processes of a cgroup directory and its
// descendants.
func procsUnder(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// Signal sends sig to every process in the cgroup and below it. SIGKILL on
// cgroup v2 is one write to cgroup.kill (Linux 5.14+). Otherwise the cgroup
// is frozen first, so that no process can fork away between the reading of
// its members and the signal, every member is signalled through a pidfd
// checked to still be in the cgroup, and the cgroup is thawed again (after
// SIGKILL always, so that the processes die; else only if it was not
// paused). Only a cgroup berth created is signalled: ErrForeign otherwise.
func (c *Cgroup) Signal(sig unix.Signal) error {
	if !c.Owned() {
		return c.errForeign("kill the processes of")
	}
	if sig == unix.SIGKILL && c.Version == V2 {
		err := writeFile(filepath.Join(c.Dirs[0], "cgroup.kill"), "1")
		if err == nil || !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	dir, hierarchy := c.memberDir()
	paused := c.Frozen()
	freezeErr := c.Freeze(true)
	for _, pid := range procsUnder(dir) {
		c.signalMember(pid, sig, hierarchy, freezeErr == nil)
	}
	// Thawed after SIGKILL always, so that the processes die; else only if
	// it was not paused, and was frozen here.
	if sig == unix.SIGKILL && paused || !paused && freezeErr == nil {
		if err := c.Freeze(false); err != nil {
			return err
		}
	}
	if freezeErr != nil {
		return fmt.Errorf("signalled the cgroup's processes without freezing it first: %w", freezeErr)
	}
	return nil
}

// memberDir is the directory whose processes Signal reads: the freezer's
// on v1, since those are the ones frozen, and the hierarchy it is in as
// /proc/PID/cgroup names it ("" for v2).
func (c *Cgroup) memberDir() (dir, hierarchy string) {
	if c.Version == V2 {
		return c.Dirs[0], ""
	}
	dir = c.dirFor("freezer")
	if dir == "" {
		dir = c.Dirs[0]
	}
	rel, _ := filepath.Rel(Root, dir)
	hierarchy, _, _ = strings.Cut(rel, "/")
	return dir, hierarchy
}

// signalMember signals pid if it is, once held by a pidfd, still a member
// of this cgroup: a PID read from cgroup.procs may have been reused since
// by a process elsewhere. In a frozen cgroup no member can exit or leave,
// so the PID is the member's, and the check is skipped.
func (c *Cgroup) signalMember(pid int, sig unix.Signal, hierarchy string, frozen bool) {
	p, err := pidfd.Open(pid, 0)
	if err != nil {
		return
	}
	defer p.Close()
	if frozen {
		_ = p.Signal(sig)
		return
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil || !inCgroup(string(b), hierarchy, c.Path) {
		return
	}
	// The membership read above was of the pidfd's process only if it
	// has not exited since: an exited process's PID may be reused.
	if p.Wait(0) {
		return
	}
	_ = p.Signal(sig)
}

// inCgroup reports whether a /proc/PID/cgroup text places the process at
// path or below it, in the v1 hierarchy named hierarchy (its controllers,
// as "cpu,cpuacct"), or in the unified hierarchy when hierarchy is "".
func inCgroup(procCgroup, hierarchy, path string) bool {
	for _, line := range strings.Split(procCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if hierarchy == "" && parts[0] != "0" || hierarchy != "" && parts[1] != hierarchy {
			continue
		}
		p := parts[2]
		return p == path || strings.HasPrefix(p, strings.TrimSuffix(path, "/")+"/")
	}
	return false
}

// waitFrozen waits until a v2 cgroup reports that all its processes have
// stopped; writing cgroup.freeze only starts the freezing.
func waitFrozen(dir string) error {
	delay := 100 * time.Microsecond
	for waited := time.Duration(0); waited < 2*time.Second; waited += delay {
		if n, err := readKey(filepath.Join(dir, "cgroup.events"), "frozen"); err != nil || n == 1 {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 20*time.Millisecond)
	}
	return fmt.Errorf("freeze %s: processes did not stop within 2s", dir)
}
