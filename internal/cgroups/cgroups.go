// Package cgroups creates, limits, inspects and removes a container's
// control groups on cgroup v1 (one directory per controller hierarchy) and
// cgroup v2 (one directory in the unified hierarchy). It never moves a
// process itself except through Join, which the init stage calls for its
// own thread: writing a PID into cgroup.procs is the slowest step of a
// start (it waits for an RCU grace period), while a thread writing 0 into
// a v1 tasks file, or a child born into its v2 cgroup, costs nearly nothing.
package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Root is where the cgroup file systems are mounted.
const Root = "/sys/fs/cgroup"

// Version is a cgroup hierarchy version.
type Version int

const (
	V1 Version = 1
	V2 Version = 2
)

func (v Version) String() string { return "v" + strconv.Itoa(int(v)) }

// Detect reports whether the host runs the unified (v2) hierarchy or v1
// (legacy or hybrid: a hybrid host's cgroup2 mount holds no controllers
// berth needs, so it is treated as v1).
func Detect() Version {
	var st unix.Statfs_t
	if err := unix.Statfs(Root, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return V2
	}
	return V1
}

// Cgroup is one container's control group.
type Cgroup struct {
	Version Version
	// Path is the cgroup's path relative to each hierarchy's root, such as
	// /berth/<id>.
	Path string
	// Dirs are the absolute directories that make up the cgroup: one per
	// v1 hierarchy, or the single v2 directory.
	Dirs []string
	// Foreign are the directories of Dirs that existed before the
	// container (see Claim): berth writes the container's limits there,
	// but never freezes them, kills their processes or removes them.
	Foreign []string
	// Delegated, when set, is the cgroup v2 subtree an ordinary user was
	// given (ForUser), inside which the cgroup is made: controllers are
	// enabled from there down, and no device program is attached (an
	// ordinary user cannot load one; its user namespace already keeps
	// it from making device nodes).
	Delegated string
}

// ErrV1Unified means a config sets resources.unified on a cgroup v1 host.
// Its text is runc's: runc's tests match "invalid configuration".
var ErrV1Unified = errors.New("invalid configuration: cannot use resources.unified on cgroup v1")

// New describes the cgroup at path (relative to the hierarchy roots) for
// the host's cgroup version. Nothing is created.
func New(path string, resources *specs.LinuxResources) (*Cgroup, error) {
	path = filepath.Clean("/" + path)
	if path == "/" {
		return nil, fmt.Errorf("cgroups path %q names the root cgroup: give the container its own", path)
	}
	c := &Cgroup{Version: Detect(), Path: path}
	if c.Version == V1 && resources != nil && len(resources.Unified) > 0 {
		return nil, fmt.Errorf("%w: the host runs v1; remove it, or run on a cgroup v2 host", ErrV1Unified)
	}
	if c.Version == V2 {
		c.Dirs = []string{filepath.Join(Root, path)}
		return c, nil
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read the cgroup hierarchies: %w", err)
	}
	hierarchies, err := v1Hierarchies(string(self))
	if err != nil {
		return nil, err
	}
	for _, h := range hierarchies {
		c.Dirs = append(c.Dirs, filepath.Join(Root, h, path))
	}
	if hybrid() {
		c.Dirs = append(c.Dirs, filepath.Join(unifiedRoot, path))
	}
	return c, nil
}

// Load describes an existing cgroup from its recorded directories, and
// those of them that berth did not create.
func Load(version Version, path string, dirs, foreign []string) *Cgroup {
	return &Cgroup{Version: version, Path: path, Dirs: dirs, Foreign: foreign}
}

// Create makes the cgroup's directories (all but the Foreign ones, which
// exist) and applies the limits. Device access is denied except what r's
// device rules allow, even when r has none or is nil: the device cgroup
// fails closed. On error everything it made is removed again.
func (c *Cgroup) Create(r *specs.LinuxResources) (err error) {
	if c.IsNone() {
		return CheckNoLimits(r)
	}
	defer func() {
		if err != nil {
			_ = c.Destroy()
		}
	}()
	if c.Version == V2 {
		return c.createV2(r)
	}
	return c.createV1(r)
}

// TasksFiles are the files the init stage writes 0 into to join the
// cgroup (v1 only; v2 children are born inside it).
func (c *Cgroup) TasksFiles() []string {
	if c.Version == V2 {
		return nil
	}
	var files []string
	for _, d := range c.Dirs {
		if !isUnified(d) {
			files = append(files, filepath.Join(d, "tasks"))
		}
	}
	return files
}

// Join moves the calling thread into each v1 cgroup whose tasks file is
// given. The caller must be the thread that later execs.
func Join(tasksFiles []string) error {
	for _, f := range tasksFiles {
		if err := writeFile(f, "0"); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// AddProcess moves a whole process into the cgroup, for kernels where a
// child cannot be born inside it.
func (c *Cgroup) AddProcess(pid int) error {
	for _, d := range c.Dirs {
		if isUnified(d) {
			continue // joined at birth
		}
		if err := writeFile(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add process %d to cgroup: %w", pid, err)
		}
	}
	return nil
}

// OpenPidsMax opens the cgroup's pids.max for writing. An init stage that
// is in the cgroup with all its threads (born there on v2, moved there
// whole on v1) sets the limit through it as its last step before the
// program runs: a Go runtime has several threads, and they must not use
// up the container's own pids, or be unable to start under a small limit.
// The file is opened by the runtime, so the write needs no permission
// of the init stage's own.
func (c *Cgroup) OpenPidsMax() (*os.File, error) {
	if c.IsNone() {
		return nil, ErrNoCgroup
	}
	dir := c.Dirs[0]
	if c.Version == V1 {
		dir = c.dirFor("pids")
	}
	f, err := os.OpenFile(filepath.Join(dir, "pids.max"), os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the cgroup's pids limit: %w", err)
	}
	return f, nil
}

// OpenBirthDir opens the cgroup2 directory a process is born into
// (CLONE_INTO_CGROUP): the v2 cgroup, or a hybrid host's unified one. Nil
// when there is none.
func (c *Cgroup) OpenBirthDir() (*os.File, error) {
	dir := c.UnifiedDir()
	if c.Version == V2 && !c.IsNone() {
		dir = c.Dirs[0]
	}
	if dir == "" {
		return nil, nil
	}
	return os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// OOMKilled reports whether the kernel's OOM killer killed a process of
// this cgroup because the memory limit was hit.
func (c *Cgroup) OOMKilled() bool {
	if c.IsNone() {
		return false
	}
	file, key := "memory.events", "oom_kill"
	dir := c.Dirs[0]
	if c.Version == V1 {
		file = "memory.oom_control"
		dir = c.dirFor("memory")
		if dir == "" {
			return false
		}
	}
	n, _ := readKey(filepath.Join(dir, file), key)
	return n > 0
}

// Processes lists the PIDs in the cgroup and in the cgroups below it.
func (c *Cgroup) Processes() []int {
	for _, d := range c.Dirs {
		if pids := procsUnder(d); len(pids) > 0 {
			return pids
		}
	}
	return nil
}

// Destroy kills whatever still runs in the cgroup and removes the
// directories berth created; Foreign ones are left as they are. Missing
// directories are not an error; a cgroup whose processes have not exited
// yet reports EBUSY and is left for the next garbage collection.
func (c *Cgroup) Destroy() error {
	var errs []error
	killed := false
	for i := len(c.Dirs) - 1; i >= 0; i-- {
		if !c.owns(c.Dirs[i]) {
			if c.Version == V2 {
				errs = append(errs, releaseDevicesV2(c.Dirs[i]))
			}
			continue
		}
		err := rmdirTree(c.Dirs[i])
		if errors.Is(err, unix.EBUSY) && c.Owned() {
			if !killed {
				_ = c.Signal(unix.SIGKILL)
				killed = true
			}
			err = rmdirWhenEmpty(c.Dirs[i])
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", c.Dirs[i], err))
		}
	}
	return errors.Join(errs...)
}

// rmdirWhenEmpty removes a cgroup whose processes were just killed: they
// leave it as they finish exiting, which takes a moment after their PID 1
// was reaped. This is teardown, after the container has ended, so it may
// wait a little (up to about a second) rather than leave the cgroup for
// the next collection.
func rmdirWhenEmpty(dir string) error {
	delay := time.Millisecond
	for waited := time.Duration(0); ; waited += delay {
		err := rmdirTree(dir)
		if !errors.Is(err, unix.EBUSY) || waited > time.Second {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// rmdirTree removes a cgroup directory of the container's, and first the
// cgroups the container made below it (a cgroup with children cannot be
// removed), deepest first. The directory is only read when it cannot be
// removed as it is: most containers make no cgroups of their own, and
// reading one lists every control file (34 in a v1 memory cgroup), which
// made a removal three calls instead of one, for each hierarchy.
func rmdirTree(dir string) error {
	err := unix.Rmdir(dir)
	if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
		return err
	}
	entries, _ := os.ReadDir(dir)
	children := false
	for _, e := range entries {
		if e.IsDir() {
			_ = rmdirTree(filepath.Join(dir, e.Name()))
			children = true
		}
	}
	if !children {
		return err // busy with processes, not with cgroups
	}
	return unix.Rmdir(dir)
}

func (c *Cgroup) dirFor(controller string) string {
	for _, d := range c.Dirs {
		rel, err := filepath.Rel(Root, d)
		if err != nil {
			continue
		}
		hierarchy, _, _ := strings.Cut(rel, "/")
		for _, name := range strings.Split(hierarchy, ",") {
			if name == controller {
				return d
			}
		}
	}
	return ""
}

func writeFile(path, value string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_TRUNC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(value)); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

// readKey returns the number after key in a flat-keyed cgroup file.
func readKey(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no key %s", path, key)
}

// Freeze stops (or lets run again) every process in the cgroup, and
// returns once they have all stopped. A cgroup berth did not create is
// left alone (ErrForeign).
func (c *Cgroup) Freeze(frozen bool) error {
	if c.IsNone() {
		return fmt.Errorf("freeze or thaw: %w (pause needs the freezer: run the container as root, or with a delegated cgroup v2)", ErrNoCgroup)
	}
	if !c.Owned() {
		return c.errForeign("freeze or thaw")
	}
	if c.Version == V2 {
		v := "0"
		if frozen {
			v = "1"
		}
		if err := writeFile(filepath.Join(c.Dirs[0], "cgroup.freeze"), v); err != nil || !frozen {
			return err
		}
		return waitFrozen(c.Dirs[0])
	}
	dir := c.dirFor("freezer")
	if dir == "" {
		return fmt.Errorf("the freezer cgroup is not mounted")
	}
	v := "THAWED"
	if frozen {
		v = "FROZEN"
	}
	if err := writeFile(filepath.Join(dir, "freezer.state"), v); err != nil {
		return err
	}
	if !frozen {
		return nil
	}
	// FREEZING means some task has not stopped yet; v1 finishes on a
	// write (a task that was forking when the freeze began is caught by
	// the next one).
	delay := 100 * time.Microsecond
	for waited := time.Duration(0); waited < 2*time.Second; waited += delay {
		b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
		if err != nil || strings.TrimSpace(string(b)) == "FROZEN" {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 20*time.Millisecond)
		_ = writeFile(filepath.Join(dir, "freezer.state"), "FROZEN")
	}
	return fmt.Errorf("freeze %s: processes did not stop within 2s", dir)
}

// Frozen reports whether the cgroup is frozen.
func (c *Cgroup) Frozen() bool {
	if c.IsNone() {
		return false
	}
	if c.Version == V2 {
		n, err := readKey(filepath.Join(c.Dirs[0], "cgroup.events"), "frozen")
		return err == nil && n == 1
	}
	dir := c.dirFor("freezer")
	if dir == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	return err == nil && strings.TrimSpace(string(b)) == "FROZEN"
}

// SystemdPath turns a systemd-style cgroupsPath ("slice:prefix:name", as
// engines pass with --systemd-cgroup) into the cgroupfs path systemd would
// use: "system.slice:docker:abc" is /system.slice/docker-abc.scope, and a
// nested slice "a-b.slice" lives in a.slice/a-b.slice. Other paths are
// returned as they are.
func SystemdPath(path string) (string, error) {
	parts := strings.Split(path, ":")
	if len(parts) != 3 {
		return path, nil
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	if !strings.HasSuffix(slice, ".slice") || strings.Contains(slice, "/") || strings.Contains(name, "/") || name == "" {
		return "", fmt.Errorf("cgroupsPath %q: want slice:prefix:name, such as system.slice:berth:ID", path)
	}
	dir := "/"
	stem := strings.TrimSuffix(slice, ".slice")
	for i := range stem {
		if stem[i] == '-' {
			dir = filepath.Join(dir, stem[:i]+".slice")
		}
	}
	dir = filepath.Join(dir, slice)
	unit := name
	if prefix != "" {
		unit = prefix + "-" + name
	}
	if !strings.HasSuffix(unit, ".slice") {
		unit += ".scope"
	}
	return filepath.Join(dir, unit), nil
}

// ErrUnknownController means an exec's --cgroup names a controller the
// container has no cgroup of.
var ErrUnknownController = errors.New("unknown controller")

// Sub describes sub-cgroups of the container's cgroup for a process to
// join (runc's exec --cgroup): paths maps a v1 controller (as
// /proc/self/cgroup names it: "memory", "name=systemd") to a path below the
// container's cgroup in its hierarchy; the key "" applies to every
// hierarchy without a path of its own (and on v2 to the one). The
// sub-cgroups must exist: they are joined, never made here.
func (c *Cgroup) Sub(paths map[string]string) (*Cgroup, error) {
	for _, p := range paths {
		if rel := strings.TrimPrefix(p, "/"); rel != "" && !filepath.IsLocal(rel) {
			// runc compat: runc's tests match this text.
			return nil, fmt.Errorf("%s is not a sub cgroup path", p)
		}
	}
	sub := *c
	sub.Dirs = append([]string(nil), c.Dirs...)
	known := map[string]bool{}
	for i, d := range sub.Dirs {
		var controllers []string
		if c.Version == V1 && !isUnified(d) {
			rel, _ := filepath.Rel(Root, d)
			h, _, _ := strings.Cut(rel, "/")
			controllers = strings.Split(MountData(h), ",")
		}
		p, ok := paths[""]
		for _, name := range controllers {
			known[name] = true
			if q, has := paths[name]; has {
				p, ok = q, true
			}
		}
		if !ok {
			continue
		}
		sub.Dirs[i] = filepath.Join(d, filepath.Clean("/"+p))
		if _, err := os.Stat(sub.Dirs[i]); errors.Is(err, os.ErrNotExist) {
			// runc compat: runc's tests match "adding pid ...cgroup.procs: no such file".
			return nil, fmt.Errorf("cgroup %s: adding pid to %s: %w", p, filepath.Join(sub.Dirs[i], "cgroup.procs"), unix.ENOENT)
		} else if err != nil {
			return nil, fmt.Errorf("cgroup %s: %w", p, err)
		}
	}
	for name := range paths {
		if name != "" && !known[name] && c.Version == V1 {
			return nil, fmt.Errorf("%w %q: the container's cgroups are in %v", ErrUnknownController, name, c.Dirs)
		}
	}
	return &sub, nil
}
