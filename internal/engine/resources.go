package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkResources refuses bad device and resource options (issue 13's
// devices and resources group) before anything is made for the
// container; a container without them costs nothing here.
func checkResources(cfg managed.Config) error {
	x := cfg.ResourceOptions
	if x.IsZero() {
		return nil
	}
	s := spec.Default("/", []string{"/bin/true"})
	o := spec.RunOptions{Memory: cfg.Memory, CPUs: cfg.CPUs, CPUShares: cfg.CPUShares, ResourceOptions: x}
	if err := spec.ApplyResources(s, o); err != nil {
		return err
	}
	if _, err := cgroupParentPath(x.CgroupParent, "0"); err != nil {
		return err
	}
	if x.CgroupParent != "" && rootless.Active() {
		return errdefs.New(errdefs.ErrInvalidArgument, "--cgroup-parent needs root: a rootless container's cgroup is made in the user's delegated subtree")
	}
	if err := checkRealtime(x, cfg.CgroupParent); err != nil {
		return err
	}
	if err := checkRootlessDevices(s, x); err != nil {
		return err
	}
	return checkCDI(x)
}

// cgroupParentPath is the container's cgroup under --cgroup-parent: a
// systemd slice name (a-b.slice) is laid out as systemd does
// (/a.slice/a-b.slice/berth-ID.scope), anything else is a path below
// the hierarchies' roots, PARENT/ID. A path that is not plainly below
// the root (.., empty names) is refused. "" without a parent.
func cgroupParentPath(parent, id string) (string, error) {
	if parent == "" {
		return "", nil
	}
	if strings.HasSuffix(parent, ".slice") && !strings.Contains(parent, "/") {
		p, err := cgroups.SystemdPath(parent + ":berth:" + id)
		if err != nil || strings.Contains(parent, ":") {
			return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --cgroup-parent %q: a slice is named like my.slice or my-sub.slice", parent)
		}
		return p, nil
	}
	rel := strings.TrimPrefix(parent, "/")
	if rel == "" || !filepath.IsLocal(rel) || filepath.Clean(rel) != strings.TrimSuffix(rel, "/") || strings.ContainsAny(rel, ":\n") {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --cgroup-parent %q: give a cgroup path such as /mygroup or a/b, without . or .. (or a systemd slice such as my.slice)", parent)
	}
	return "/" + filepath.Join(rel, id), nil
}

// checkRealtime refuses --cpu-rt-* where the kernel has no realtime
// group scheduling (cgroup v2 has no realtime controller at all), and
// where the parent cgroup has less realtime budget than asked for.
func checkRealtime(x spec.ResourceOptions, parent string) error {
	if x.CPURealtimePeriod == 0 && x.CPURealtimeRuntime == 0 {
		return nil
	}
	if cgroups.Detect() != cgroups.V1 {
		return errdefs.New(errdefs.ErrInvalidArgument, "--cpu-rt-period and --cpu-rt-runtime need cgroup v1 with realtime group scheduling: cgroup v2 has no realtime controller")
	}
	root := ""
	for _, dir := range []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"} {
		if _, err := os.Stat(filepath.Join(dir, "cpu.rt_runtime_us")); err == nil {
			root = dir
			break
		}
	}
	if root == "" {
		return errdefs.New(errdefs.ErrInvalidArgument, "--cpu-rt-period and --cpu-rt-runtime need realtime group scheduling (CONFIG_RT_GROUP_SCHED), which this kernel does not have")
	}
	dir := filepath.Join(root, "berth")
	if parent != "" {
		p, _ := cgroupParentPath(parent, "x")
		dir = filepath.Join(root, filepath.Dir(p))
	}
	budget, err1 := readInt(filepath.Join(dir, "cpu.rt_runtime_us"))
	period, err2 := readInt(filepath.Join(dir, "cpu.rt_period_us"))
	if err1 != nil || err2 != nil || x.CPURealtimeRuntime <= 0 || budget < 0 {
		return nil // made with the container, or unlimited: the kernel decides
	}
	// The kernel compares bandwidths, runtime over period; a new cgroup's
	// period is 1s.
	own := x.CPURealtimePeriod
	if own == 0 {
		own = 1000000
	}
	if x.CPURealtimeRuntime*period > budget*own {
		return errdefs.New(errdefs.ErrInvalidArgument, "--cpu-rt-runtime %d: the parent cgroup %s has a realtime budget of %d µs per %d µs; raise its cpu.rt_runtime_us first (as dockerd's --cpu-rt-runtime does)", x.CPURealtimeRuntime, dir, budget, period)
	}
	return nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// checkRootlessDevices: a rootless container cannot make device nodes;
// its devices are the host's nodes bind-mounted at the same path (as
// podman does), so a device may not be renamed there.
func checkRootlessDevices(s *specs.Spec, x spec.ResourceOptions) error {
	if len(x.Devices) == 0 || !rootless.Active() {
		return nil
	}
	for _, v := range x.Devices {
		if spec.IsCDIName(v) {
			continue
		}
		d, _ := spec.ParseDevice(v)
		if d.Container != filepath.Clean(d.Host) {
			return errdefs.New(errdefs.ErrInvalidArgument, "--device %s: a rootless container gets the host's node bind-mounted at the same path; drop :%s", v, d.Container)
		}
	}
	return nil
}

// adaptResources fits the spec's resources to this host and container:
// the v1-only settings dropped on v2 with Docker's warnings, the cgroup
// under --cgroup-parent, CDI devices injected. Nothing for containers
// without these options.
func adaptResources(s *specs.Spec, cfg *managed.Config, id string) (Warnings, error) {
	x := &cfg.ResourceOptions
	if x.IsZero() {
		return nil, nil
	}
	var w Warnings
	if m := s.Linux.Resources.Memory; m != nil && cgroups.Detect() == cgroups.V2 {
		if m.Swappiness != nil {
			m.Swappiness = nil
			w = append(w, "--memory-swappiness is ignored: cgroup v2 has no per-cgroup swappiness")
		}
		if m.DisableOOMKiller != nil {
			m.DisableOOMKiller = nil
			w = append(w, "--oom-kill-disable is ignored: cgroup v2 cannot disable the OOM killer")
		}
	}
	if b := s.Linux.Resources.BlockIO; b != nil && (b.Weight != nil || len(b.WeightDevice) > 0) && !blkioWeightSupported() {
		b.Weight, b.WeightDevice = nil, nil
		w = append(w, "--blkio-weight and --blkio-weight-device are ignored: this kernel's I/O scheduler has no cgroup weights (BFQ or io.cost)")
	}
	if x.OomKillDisable && cfg.Memory == "" {
		w = append(w, "disabling the OOM killer of a container without --memory may leave the host out of memory")
	}
	path, err := cgroupParentPath(x.CgroupParent, id)
	if err != nil {
		return w, err
	}
	if path != "" {
		s.Linux.CgroupsPath = path
	}
	return w, injectCDI(s, x)
}

// blkioWeightSupported reports whether the host's block I/O cgroup has
// weights: Docker drops a weight with a warning where it has none (a
// kernel without BFQ or io.cost), as berth does.
func blkioWeightSupported() bool {
	globs := []string{"/sys/fs/cgroup/blkio/blkio.weight", "/sys/fs/cgroup/blkio/blkio.bfq.weight"}
	if cgroups.Detect() == cgroups.V2 {
		// The root cgroup has no weight files: any child with io on does.
		globs = []string{"/sys/fs/cgroup/*/io.weight", "/sys/fs/cgroup/*/io.bfq.weight"}
	}
	for _, g := range globs {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return true
		}
	}
	return false
}
