package container

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/checkpoint"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrCannotCheckpoint means the container is not in a state that can be
// checkpointed (created or stopped).
var ErrCannotCheckpoint = errors.New("cannot be checkpointed")

// Checkpoint dumps the container's process tree into o.ImagePath with
// CRIU (criu: its binary, "" for criu on PATH). Unless o.LeaveRunning or
// o.PreDump, CRIU ends the processes; the caller then deletes the
// container, as runc does.
func (c *Container) Checkpoint(o checkpoint.Options, criu string) error {
	st := c.Status()
	if st != state.Running && st != state.Paused {
		// runc compat: runc says "Container cannot be checkpointed in stopped state".
		return fmt.Errorf("container %s is %s: %w (only a running container can)", c.rec.ID, st, ErrCannotCheckpoint)
	}
	if err := o.Validate(); err != nil {
		return err
	}
	s, err := c.Spec()
	if err != nil {
		return err
	}
	if err := absPaths(&o); err != nil {
		return err
	}
	if err := checkParent(o); err != nil {
		return err
	}
	if err := refuseTerminal(s); err != nil {
		return err
	}
	if err := makeImageDirs(o); err != nil {
		return err
	}
	d := checkpoint.Dump{Pid: c.rec.Pid, Root: c.rec.Rootfs, FreezeCgroup: c.freezerDir()}
	for _, m := range bindMounts(s) {
		d.External = append(d.External, checkpoint.Mount{Key: m.Destination, Val: m.Destination})
	}
	if nsPath(s, specs.NetworkNamespace) != "" {
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", c.rec.Pid), &st); err != nil {
			return fmt.Errorf("checkpoint: network namespace: %w", err)
		}
		d.NetNsInode = st.Ino
	}
	if !o.PreDump {
		if d.Files, err = checkpoint.SaveDescriptors(o.ImagePath, c.rec.Pid); err != nil {
			return err
		}
	}
	return checkpoint.Run(criu, checkpoint.DumpArgs(o, d), [3]*os.File{}, nil)
}

// absPaths makes the image paths absolute (CRIU resolves some paths
// from its work directory) and gives the image path runc's default.
func absPaths(o *checkpoint.Options) error {
	if o.ImagePath == "" {
		o.ImagePath = "checkpoint"
	}
	for _, p := range []*string{&o.ImagePath, &o.WorkPath} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// checkParent checks that a pre-dump's images exist, before anything is
// created (runc compat: runc's message names --parent-path, which its
// tests match).
func checkParent(o checkpoint.Options) error {
	if o.ParentPath == "" {
		return nil
	}
	parent := filepath.Join(o.ImagePath, o.ParentPath)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return fmt.Errorf("invalid --parent-path: %s is not a directory of a pre-dump", parent)
	}
	return nil
}

// makeImageDirs creates the image and work directories.
func makeImageDirs(o checkpoint.Options) error {
	for _, dir := range []string{o.ImagePath, o.WorkPath} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil
}

// freezerDir is the cgroup directory CRIU freezes to dump the tree: the
// v1 freezer hierarchy's, or the v2 cgroup; none for a cgroup berth did
// not create.
func (c *Container) freezerDir() string {
	if !c.cg.Owned() {
		return ""
	}
	for _, d := range c.cg.Dirs {
		if c.cg.Version == cgroups.V2 || strings.Contains(d, "/freezer/") {
			return d
		}
	}
	return ""
}

// ErrTerminal means the container's process has a terminal, which berth
// cannot hand over through CRIU (runc does it with CRIU's RPC mode).
var ErrTerminal = errors.New("checkpoint/restore of a container with a terminal is not supported")

func refuseTerminal(s *specs.Spec) error {
	if s.Process != nil && s.Process.Terminal {
		return fmt.Errorf("%w: run it without process.terminal", ErrTerminal)
	}
	return nil
}

// bindMounts are the config's bind mounts: their sources are outside the
// container, so CRIU records them as external mounts.
func bindMounts(s *specs.Spec) []specs.Mount {
	var out []specs.Mount
	for _, m := range s.Mounts {
		bind := m.Type == "bind"
		for _, opt := range m.Options {
			bind = bind || opt == "bind" || opt == "rbind"
		}
		if bind {
			out = append(out, m)
		}
	}
	return out
}

// nsPath is the path of an existing namespace of type t the config joins.
func nsPath(s *specs.Spec, t specs.LinuxNamespaceType) string {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

// Restore recreates a container from a checkpoint in co.ImagePath: its
// record, its cgroup, and its process tree, restored by CRIU under the
// new container's cgroup and with o's stdio in place of the pipes it had.
// The container is running when it returns; with o.Foreground the caller
// waits for it with Wait.
func Restore(o Options, co checkpoint.Options, criu string) (_ *Container, err error) {
	if err := co.Validate(); err != nil {
		return nil, err
	}
	if err := absPaths(&co); err != nil {
		return nil, err
	}
	if err := checkpoint.CheckImage(co.ImagePath); err != nil {
		return nil, err
	}
	inherit, err := checkpoint.InheritedStdio(co.ImagePath)
	if err != nil {
		return nil, err
	}
	s := o.Spec
	if err := spec.Validate(s); err != nil {
		return nil, err
	}
	if err := refuseTerminal(s); err != nil {
		return nil, err
	}
	if o.RootOverlay == nil {
		if _, err := os.Stat(s.Root.Path); err != nil {
			return nil, fmt.Errorf("restore: root filesystem: %w", err)
		}
	}
	store := state.Store{Root: o.StateRoot}
	store.Collect(Cleanup)
	cg, err := claimCgroup(&o)
	if err != nil {
		return nil, err
	}
	rec := newRecord(o, cg)
	h, err := store.Create(rec)
	if err != nil {
		return nil, err
	}
	c := &Container{store: store, handle: h, rec: rec, cg: cg, dir: h.Dir(), warn: o.Warn}
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	if !o.Foreground || o.KeepSpec {
		// berth's monitor keeps it for exec and a later checkpoint.
		if err := c.saveSpec(s); err != nil {
			return nil, err
		}
	}
	if err := cg.Create(withDefaultDeviceRules(s.Linux.Resources)); err != nil {
		return nil, err
	}
	pid, err := c.criuRestore(o, co, criu, inherit)
	if err != nil {
		return nil, err
	}
	if o.unit != nil {
		// The restored tree is in the cgroup already; systemd adopts it.
		if err := startUnit(o.unit, o.ID, pid, cg, s.Linux.Resources, false); err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			reapPid(pid)
			return nil, err
		}
	}
	c.rec.Pid = pid
	c.rec.PidStart, _ = state.ProcessStartTime(pid)
	c.rec.Status = state.Running
	if err := c.handle.Save(c.rec); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		reapPid(pid)
		return nil, fmt.Errorf("save state: %w", err)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			reapPid(pid)
			return nil, err
		}
	}
	return c, nil
}

// criuRestore runs CRIU with the container's root mounted at a private
// place in its state directory, and returns the restored init's PID. The
// restored tree is this process's child.
func (c *Container) criuRestore(o Options, co checkpoint.Options, criu string, inherit map[string]int) (int, error) {
	root := filepath.Join(c.dir, "criu-root")
	if err := os.Mkdir(root, 0o700); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(root)
	if err := mountRestoreRoot(o, root); err != nil {
		return 0, err
	}
	// The restored mount namespace holds its own copy of the root.
	defer unix.Unmount(root, unix.MNT_DETACH)
	if err := createMountpoints(o.Spec, root); err != nil {
		return 0, err
	}
	r := checkpoint.Restore{Root: root, CgroupRoot: c.cg.Path, PidFile: filepath.Join(c.dir, "criu.pid"), Inherit: inherit}
	defer os.Remove(r.PidFile)
	for _, m := range bindMounts(o.Spec) {
		r.External = append(r.External, checkpoint.Mount{Key: m.Destination, Val: m.Source})
	}
	// The new stdio reaches CRIU as fds 3-5, never as its own 0-2: CRIU
	// writes its complaints to its stderr, which must not be the
	// container's log.
	var extra []*os.File
	stdio := [3]*os.File{o.Stdin, o.Stdout, o.Stderr}
	for i, f := range stdio {
		key, ok := stdioKey(r.Inherit, i)
		if !ok {
			continue
		}
		if f == nil {
			null, err := os.Open(os.DevNull)
			if err != nil {
				return 0, fmt.Errorf("restore: %w", err)
			}
			defer null.Close()
			f = null
		}
		r.Inherit[key] = 3 + len(extra)
		extra = append(extra, f)
	}
	if p := nsPath(o.Spec, specs.NetworkNamespace); p != "" {
		ns, err := os.Open(p)
		if err != nil {
			return 0, fmt.Errorf("restore: network namespace: %w", err)
		}
		defer ns.Close()
		r.Inherit[checkpoint.InheritNetNs()] = 3 + len(extra)
		extra = append(extra, ns)
	}
	if err := checkpoint.Run(criu, checkpoint.RestoreArgs(co, r), [3]*os.File{}, extra); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(r.PidFile)
	if err != nil {
		return 0, fmt.Errorf("restore: criu wrote no pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("restore: criu's pid file holds %q", b)
	}
	return pid, nil
}

// createMountpoints makes the destinations of the config's mounts in the
// restore root: CRIU mounts them but fails where one is missing, as in
// the fresh root of podman's `restore --import` ("Can't stat mountpoint
// .../run/.containerenv").
func createMountpoints(s *specs.Spec, root string) error {
	var mounts []rootfs.Mount
	for _, m := range s.Mounts {
		parsed, err := parseMount(s, m)
		if err != nil {
			return fmt.Errorf("%w: %v", spec.ErrInvalid, err)
		}
		mounts = append(mounts, parsed)
	}
	if err := rootfs.CreateMountpoints(root, mounts); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// stdioKey is the key of the image's stdio fd i in inherit.
func stdioKey(inherit map[string]int, i int) (string, bool) {
	for k, v := range inherit {
		if v == i {
			return k, true
		}
	}
	return "", false
}

// mountRestoreRoot mounts the container's root filesystem at dir: a bind
// of the bundle's root, or an image's overlay.
func mountRestoreRoot(o Options, dir string) error {
	if ov := o.RootOverlay; ov != nil {
		lower := make([]string, len(ov.Lower))
		for i, l := range ov.Lower {
			lower[i] = filepath.Join(ov.LayersDir, l)
		}
		opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + ov.Upper + ",workdir=" + ov.Work
		if err := unix.Mount("overlay", dir, "overlay", 0, opts); err != nil {
			return fmt.Errorf("restore: mount the image's root: %w", err)
		}
		return nil
	}
	if err := unix.Mount(o.Spec.Root.Path, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("restore: bind the root filesystem: %w", err)
	}
	return nil
}

// Wait waits for a restored container's init process, this process's
// child, to exit; a foreground container is then removed.
func (c *Container) Wait() Exit {
	exit := exitOf(reapPid(c.rec.Pid))
	if exit.Signal != nil && c.cg.OOMKilled() {
		exit.OOMKilled = true
	}
	c.rec.Status = state.Stopped
	if c.rec.Ephemeral {
		if s, err := c.Spec(); err == nil {
			c.runPoststop(s)
		}
		c.release()
	}
	return exit
}

// Pid is the container's init process on the host.
func (c *Container) Pid() int { return c.rec.Pid }

// RunRestored restores a container from co.ImagePath as a foreground
// container and waits for it: what Run is for a new one (berth's monitor
// restoring a checkpointed container). Signals that Run forwards are
// forwarded to the restored init too.
func RunRestored(o Options, co checkpoint.Options, criu string) (Exit, error) {
	o.Foreground = true
	c, err := Restore(o, co, criu)
	if err != nil {
		return Exit{}, &StartError{Code: 125, Err: err}
	}
	defer c.Close()
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, ForwardedSignals...)
	defer signal.Stop(signals)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig := <-signals:
				_ = c.signalInit(sig.(unix.Signal))
			case <-done:
				return
			}
		}
	}()
	if o.Started != nil {
		o.Started(c.rec.Pid)
	}
	return c.Wait(), nil
}
