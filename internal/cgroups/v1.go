package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Required are the v1 controllers a container cannot do without.
var v1Required = []string{"pids", "memory", "devices"}

// v1Known are the kernel's v1 controllers; a hierarchy named otherwise is
// a named one, such as systemd's (mounted with name=systemd).
var v1Known = map[string]bool{
	"cpuset": true, "cpu": true, "cpuacct": true, "blkio": true, "memory": true, "devices": true, "freezer": true,
	"net_cls": true, "perf_event": true, "net_prio": true, "hugetlb": true, "pids": true, "rdma": true, "misc": true,
}

// v1Hierarchies returns the directory names under Root of the host's v1
// hierarchies, each once even when controllers are co-mounted
// (cpu,cpuacct): a container gets a cgroup in every one, named ones
// (name=systemd) included, as with runc, so that every line of its
// processes' /proc/PID/cgroup names its own cgroup. procCgroup is the
// text of /proc/self/cgroup, which lists the hierarchies.
func v1Hierarchies(procCgroup string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	have := map[string]bool{}
	rootReal := false
	if r, err := filepath.EvalSymlinks(Root); err == nil && r == Root {
		rootReal = true
	}
	for _, line := range strings.Split(procCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[0] == "0" || parts[1] == "" {
			continue
		}
		for _, name := range strings.Split(parts[1], ",") {
			real, err := hierarchyDir(Root, name, rootReal)
			var st unix.Statfs_t
			if err != nil || filepath.Dir(real) != Root || unix.Statfs(real, &st) != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
				continue // mounted elsewhere, or a stray directory
			}
			have[name] = true
			if !seen[real] {
				seen[real] = true
				out = append(out, filepath.Base(real))
			}
		}
	}
	for _, name := range v1Required {
		if !have[name] {
			return nil, fmt.Errorf("cgroup v1 controller %s is not mounted at %s: mount it, or boot with cgroup v2", name, filepath.Join(Root, name))
		}
	}
	return out, nil
}

// hierarchyDir is where v1 hierarchy name (a /proc/self/cgroup name:
// pids, cpu, name=systemd) is mounted under root, symlinks resolved:
// co-mounted controllers are often one directory with a symlink for each
// (cpu -> cpu,cpuacct). rootReal says root's own path has no symlinks:
// then a name that is no symlink either is its own real path, found with
// one lstat instead of EvalSymlinks's one for each element of the path,
// for each of a v1 host's ten hierarchies on each start.
func hierarchyDir(root, name string, rootReal bool) (string, error) {
	p := filepath.Join(root, strings.TrimPrefix(name, "name="))
	if rootReal && filepath.Dir(p) == root {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
	}
	return filepath.EvalSymlinks(p)
}

// MountData is what mounting v1 hierarchy dir (a directory name under
// Root, as Dirs have) takes: its controllers, or name=NAME for a named
// hierarchy.
func MountData(hierarchy string) string {
	for _, name := range strings.Split(hierarchy, ",") {
		if !v1Known[name] {
			return "name=" + hierarchy
		}
	}
	return hierarchy
}

// unifiedRoot is where a hybrid host mounts its cgroup2 hierarchy.
var unifiedRoot = filepath.Join(Root, "unified")

// hybrid reports whether a v1 host also mounts cgroup2 (at unifiedRoot).
func hybrid() bool {
	var st unix.Statfs_t
	return unix.Statfs(unifiedRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// isUnified reports whether dir is in a hybrid host's cgroup2 hierarchy.
func isUnified(dir string) bool { return strings.HasPrefix(dir, unifiedRoot+"/") }

// UnifiedDir is the container's directory in a hybrid host's cgroup2
// hierarchy ("" elsewhere): processes join it at birth (CLONE_INTO_CGROUP),
// since a thread alone cannot move between v2 cgroups.
func (c *Cgroup) UnifiedDir() string {
	for _, d := range c.Dirs {
		if isUnified(d) {
			return d
		}
	}
	return ""
}

// CreateUnified makes the container's directory in a hybrid host's
// cgroup2 hierarchy, before the init stage is forked into it.
func (c *Cgroup) CreateUnified() error {
	dir := c.UnifiedDir()
	if dir == "" || !c.owns(dir) {
		return nil
	}
	if err := mkdirV1(dir, true); err != nil {
		c.disown(dir, err)
		return err
	}
	return nil
}

func (c *Cgroup) createV1(r *specs.LinuxResources) error {
	for _, dir := range c.Dirs {
		if !c.owns(dir) || isUnified(dir) {
			continue // the unified one is made by CreateUnified
		}
		// The container's own directory must be new: one that appeared
		// since Claim is someone else's.
		if err := mkdirV1(dir, true); err != nil {
			c.disown(dir, err)
			return err
		}
	}
	if cs := c.dirFor("cpuset"); cs != "" {
		if err := fillCpuset(cs); err != nil {
			return err
		}
	}
	if err := c.setDevicesV1(deviceRules(r)); err != nil {
		return err
	}
	if r == nil {
		return nil
	}
	return c.applyV1(r)
}

// deviceRules are r's device rules, if any.
func deviceRules(r *specs.LinuxResources) []specs.LinuxDeviceCgroup {
	if r == nil {
		return nil
	}
	return r.Devices
}

// applyV1 writes every limit the config sets (device rules aside: they
// are only written into a new cgroup).
func (c *Cgroup) applyV1(r *specs.LinuxResources) error {
	for _, set := range []func(*specs.LinuxResources) error{c.setPidsV1, c.setMemoryV1, c.setCPUV1, c.setExtraV1} {
		if err := set(r); err != nil {
			return err
		}
	}
	return nil
}

// mkdirV1 creates dir and any missing parents, which are shared with
// other containers (such as /berth) and may exist; dir itself must not
// when exclusive. A new cpuset cgroup starts
// with no CPUs and no memory nodes, so parents berth creates copy them from
// their own parent and pass them on through clone_children.
//
// The parent is looked at only when the directory cannot be made for
// want of it (ENOENT): it nearly always exists, and a stat of it before
// each of the 7 to 10 hierarchies' mkdir was a cgroupfs lookup more.
func mkdirV1(dir string, exclusive bool) error {
	err := unix.Mkdir(dir, 0o755)
	if errors.Is(err, unix.ENOENT) {
		parent := filepath.Dir(dir)
		if err := mkdirV1(parent, false); err != nil {
			return err
		}
		if isCpuset(parent) {
			if err := inheritCpuset(parent); err != nil {
				return err
			}
		}
		err = unix.Mkdir(dir, 0o755)
	}
	if err != nil && (exclusive || !errors.Is(err, unix.EEXIST)) {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return nil
}

// fillCpuset gives a cpuset cgroup its parent's CPUs and memory nodes when
// it has none (a parent without clone_children, such as an engine's, makes
// empty children), filling empty ancestors first: a task cannot join a
// cpuset cgroup without CPUs.
func fillCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
		if strings.TrimSpace(string(b)) != "" {
			continue
		}
		parent := filepath.Dir(dir)
		if err := fillCpuset(parent); err != nil {
			return err
		}
		b, err = os.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return fmt.Errorf("read parent %s: %w", f, err)
		}
		if err := writeFile(filepath.Join(dir, f), strings.TrimSpace(string(b))); err != nil {
			return err
		}
	}
	return nil
}

func isCpuset(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "cpuset.cpus"))
	return err == nil
}

func inheritCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return fmt.Errorf("read parent %s: %w", f, err)
		}
		if err := writeFile(filepath.Join(dir, f), strings.TrimSpace(string(b))); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, "cgroup.clone_children"), "1")
}

// setDevicesV1 denies every device, then applies rules in order: a new
// devices cgroup inherits its parent's list, which is usually "allow
// all", so a config without rules must not leave it at that.
func (c *Cgroup) setDevicesV1(rules []specs.LinuxDeviceCgroup) error {
	dir := c.dirFor("devices")
	if dir == "" {
		return fmt.Errorf("device cgroup: the devices controller is not mounted")
	}
	if len(rules) == 0 || rules[0].Allow || rules[0].Type != "" && rules[0].Type != "a" {
		// Any "a" deny resets the list to deny-all; most configs begin so.
		rules = append([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, rules...)
	}
	// Each write is one rule, so the two files are opened once each and
	// written rule by rule in order: a default config has about twenty
	// rules, and an open and close of a cgroup file per rule came to a
	// few hundred microseconds of the start path.
	files := map[bool]int{}
	defer func() {
		for _, fd := range files {
			unix.Close(fd)
		}
	}()
	for _, rule := range rules {
		name := "devices.deny"
		if rule.Allow {
			name = "devices.allow"
		}
		path := filepath.Join(dir, name)
		fd, ok := files[rule.Allow]
		if !ok {
			var err error
			if fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
				return fmt.Errorf("device cgroup: %w", &os.PathError{Op: "open", Path: path, Err: err})
			}
			files[rule.Allow] = fd
		}
		value := DeviceRuleString(rule)
		if _, err := unix.Write(fd, []byte(value)); err != nil {
			return fmt.Errorf("device cgroup: write %q to %s: %w", value, path, err)
		}
	}
	return nil
}

// DeviceRuleString formats a rule the way the v1 devices files take it:
// "c 1:3 rwm", with * for wildcards.
func DeviceRuleString(r specs.LinuxDeviceCgroup) string {
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	return fmt.Sprintf("%s %s:%s %s", typ, num(r.Major), num(r.Minor), access)
}

func (c *Cgroup) setPidsV1(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	return writeFile(filepath.Join(c.dirFor("pids"), "pids.max"), PidsValue(*r.Pids.Limit))
}

// PidsValue is what pids.max holds for a configured limit: "max" for none.
func PidsValue(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

func (c *Cgroup) setMemoryV1(r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	dir := c.dirFor("memory")
	// Without swap accounting the memsw file does not exist and swap is
	// not limited separately.
	swapFile := filepath.Join(dir, "memory.memsw.limit_in_bytes")
	_, err := os.Stat(swapFile)
	haveSwap := err == nil
	limit, swap := m.Limit, m.Swap
	if limit != nil && *limit == -1 && swap == nil && haveSwap {
		// No memory limit means no memory+swap limit either (runc's rule).
		unlimited := int64(-1)
		swap = &unlimited
	}
	writeLimit := func() error {
		if limit == nil {
			return nil
		}
		return writeFile(filepath.Join(dir, "memory.limit_in_bytes"), strconv.FormatInt(*limit, 10))
	}
	writeSwap := func() error {
		if swap == nil || !haveSwap {
			return nil
		}
		return writeFile(swapFile, strconv.FormatInt(*swap, 10))
	}
	// The kernel keeps memory <= memory+swap at every write: raising both
	// takes memsw first, lowering both the memory limit first (as runc).
	first, second := writeLimit, writeSwap
	if limit != nil && swap != nil && (*swap == -1 || readUint(filepath.Join(dir, "memory.limit_in_bytes")) < uint64(*swap)) {
		first, second = writeSwap, writeLimit
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	if m.Reservation != nil {
		if err := writeFile(filepath.Join(dir, "memory.soft_limit_in_bytes"), strconv.FormatInt(*m.Reservation, 10)); err != nil {
			return err
		}
	}
	return nil
}

// writePair writes a period and a value limited within it (the CFS quota,
// the realtime runtime), whose parent cgroup may bound their ratio. The
// period goes first, so that a runtime longer than the old period is not
// refused; if the kernel refuses the new period (EINVAL: the old value over
// a shorter period exceeds the parent's limit) and a value follows, the
// period is written again after it, as runc does.
func writePair(dir, periodFile string, period *string, valueFile string, value *string) error {
	retry := false
	if period != nil {
		err := writeFile(filepath.Join(dir, periodFile), *period)
		retry = errors.Is(err, unix.EINVAL) && value != nil
		if err != nil && !retry {
			return err
		}
	}
	if value == nil {
		return nil
	}
	if err := writeFile(filepath.Join(dir, valueFile), *value); err != nil {
		return err
	}
	if retry {
		return writeFile(filepath.Join(dir, periodFile), *period)
	}
	return nil
}

func (c *Cgroup) setCPUV1(r *specs.LinuxResources) error {
	cpu := r.CPU
	if cpu == nil {
		return nil
	}
	dir := c.dirFor("cpu")
	if cpu.Shares != nil {
		if err := writeFile(filepath.Join(dir, "cpu.shares"), strconv.FormatUint(*cpu.Shares, 10)); err != nil {
			return err
		}
	}
	var period, quota *string
	if cpu.Period != nil {
		v := strconv.FormatUint(*cpu.Period, 10)
		period = &v
	}
	if cpu.Quota != nil {
		v := strconv.FormatInt(*cpu.Quota, 10)
		quota = &v
	}
	if err := writePair(dir, "cpu.cfs_period_us", period, "cpu.cfs_quota_us", quota); err != nil {
		return err
	}
	if cs := c.dirFor("cpuset"); cs != "" {
		if cpu.Cpus != "" {
			if err := writeFile(filepath.Join(cs, "cpuset.cpus"), cpu.Cpus); err != nil {
				return err
			}
		}
		if cpu.Mems != "" {
			if err := writeFile(filepath.Join(cs, "cpuset.mems"), cpu.Mems); err != nil {
				return err
			}
		}
	}
	return nil
}
