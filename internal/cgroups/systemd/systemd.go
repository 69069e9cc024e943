// Package systemd is berth-oci's systemd cgroup driver (--systemd-cgroup
// on a host whose init is systemd, with the unified cgroup v2 hierarchy):
// the container's cgroup is a transient scope unit that systemd creates,
// with Delegate=yes, and the limits systemd knows are unit properties, so
// that systemd keeps them when it realizes its cgroup tree again (on a
// daemon-reload, say) instead of resetting what a runtime wrote behind its
// back. The cgroup files systemd does not manage are still written by the
// cgroupfs code, as runc's driver does. systemd is reached over its
// private socket, as root, so no D-Bus daemon is needed.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Booted reports whether systemd is the init system, as sd_booted(3)
// decides it: systemd creates /run/systemd/system early at boot.
func Booted() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// DefaultPrefix names the scope of a container whose cgroupsPath is
// empty: system.slice/berth-ID.scope (runc's is "runc").
const DefaultPrefix = "berth"

const defaultSlice = "system.slice"

// Unit is a container's systemd unit and where its cgroup lives.
type Unit struct {
	// Name is the unit: PREFIX-NAME.scope, or NAME when it ends in
	// .slice (a slice is made instead of a scope).
	Name string
	// Slice is the parent slice the unit goes into.
	Slice string
	// Path is the unit's cgroup relative to the hierarchy's root, such as
	// /system.slice/berth-abc.scope.
	Path string
}

// IsSlice reports whether the unit is a slice rather than a scope.
func (u Unit) IsSlice() bool { return strings.HasSuffix(u.Name, ".slice") }

// ErrPath means a cgroupsPath that is not systemd's slice:prefix:name.
var ErrPath = errors.New("bad systemd cgroupsPath")

// ParsePath reads cgroupsPath as runc's systemd driver does:
// "slice:prefix:name" ("system.slice:docker:abc" is the scope
// docker-abc.scope in system.slice); an empty slice is system.slice; a
// name ending in .slice is a slice of its own. An empty cgroupsPath is
// system.slice:berth:ID.
func ParsePath(cgroupsPath, id string) (Unit, error) {
	if cgroupsPath == "" {
		cgroupsPath = ":" + DefaultPrefix + ":" + id
	}
	parts := strings.Split(cgroupsPath, ":")
	if len(parts) != 3 {
		// runc compat: runc's words for this error.
		return Unit{}, fmt.Errorf("%w: expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got %q instead", ErrPath, cgroupsPath)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = defaultSlice
	}
	if name == "" || strings.ContainsAny(name+prefix, "/") {
		return Unit{}, fmt.Errorf("%w %q: the name must be set, and neither name nor prefix may hold a '/'", ErrPath, cgroupsPath)
	}
	dir, err := ExpandSlice(slice)
	if err != nil {
		return Unit{}, fmt.Errorf("%w %q: %v", ErrPath, cgroupsPath, err)
	}
	u := Unit{Name: name, Slice: slice}
	if !u.IsSlice() {
		// runc compat: runc names the scope PREFIX-NAME.scope, with the
		// dash even when the prefix is empty.
		u.Name = prefix + "-" + name + ".scope"
	} else if _, err := ExpandSlice(name); err != nil {
		return Unit{}, fmt.Errorf("%w %q: %v", ErrPath, cgroupsPath, err)
	}
	u.Path = dir + "/" + u.Name
	if dir == "/" {
		u.Path = "/" + u.Name
	}
	return u, nil
}

// ExpandSlice gives a slice's cgroup path: systemd nests a-b-c.slice in
// a.slice/a-b.slice, and -.slice is the root.
func ExpandSlice(slice string) (string, error) {
	stem, ok := strings.CutSuffix(slice, ".slice")
	if !ok || stem == "" || strings.Contains(slice, "/") {
		return "", fmt.Errorf("invalid slice name %q: want NAME.slice", slice)
	}
	if stem == "-" {
		return "/", nil
	}
	var path, prefix string
	for _, part := range strings.Split(stem, "-") {
		if part == "" {
			return "", fmt.Errorf("invalid slice name %q: empty component", slice)
		}
		path += "/" + prefix + part + ".slice"
		prefix += part + "-"
	}
	return path, nil
}

// infinity is systemd's "no limit" for the byte, task and time limits.
const infinity = uint64(math.MaxUint64)

// Properties translates a container's resources to the unit properties
// systemd manages on cgroup v2 (systemd.resource-control(5)), as runc's
// driver does. Devices are left to berth's own device program: the
// cgroupfs code attaches it, and an allow list in systemd would only
// duplicate it. Everything else is written to cgroupfs after the unit
// exists.
func Properties(r *specs.LinuxResources) ([]sd.Property, error) {
	if r == nil {
		return nil, nil
	}
	var props []sd.Property
	add := func(name string, v any) { props = append(props, sd.Property{Name: name, Value: dbus.MakeVariant(v)}) }
	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit != 0 {
			add("MemoryMax", limitValue(*m.Limit))
		}
		if m.Reservation != nil && *m.Reservation != 0 {
			add("MemoryLow", limitValue(*m.Reservation))
		}
		if m.Swap != nil && *m.Swap != 0 {
			// v1's memsw counts memory plus swap; v2 limits swap alone.
			swap := *m.Swap
			if swap > 0 && m.Limit != nil && *m.Limit > 0 {
				swap -= *m.Limit
			}
			add("MemorySwapMax", limitValue(swap))
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares > 0 {
			add("CPUWeight", sharesToWeight(*c.Shares))
		}
		var quota int64
		var period uint64
		if c.Quota != nil {
			quota = *c.Quota
		}
		if c.Period != nil {
			period = *c.Period
		}
		props = append(props, cpuQuota(quota, period)...)
		for name, list := range map[string]string{"AllowedCPUs": c.Cpus, "AllowedMemoryNodes": c.Mems} {
			if list == "" {
				continue
			}
			bits, err := RangeToBits(list)
			if err != nil {
				return nil, fmt.Errorf("%s=%q: %w", name, list, err)
			}
			add(name, bits)
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit != 0 {
		add("TasksMax", limitValue(*p.Limit))
	}
	unified, err := unifiedProperties(r.Unified)
	if err != nil {
		return nil, err
	}
	return append(props, unified...), nil
}

// limitValue is a byte or task limit; a negative one is unlimited.
func limitValue(v int64) uint64 {
	if v < 0 {
		return infinity
	}
	return uint64(v)
}

// sharesToWeight is cgroups.SharesToWeight (v1 cpu.shares to v2
// cpu.weight), repeated here so this package stands alone.
func sharesToWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

const defaultPeriod = 100000 // µs, the kernel's cpu.max default

// cpuQuota is CPUQuotaPerSecUSec (and CPUQuotaPeriodUSec) for a CFS quota
// and period in µs. systemd stores the quota as a percentage of one CPU,
// so it is rounded up to the next 10ms per second, as runc does: the
// cgroupfs write that follows sets the exact value, and a coarser systemd
// value must not be the lower one.
func cpuQuota(quota int64, period uint64) []sd.Property {
	if quota == 0 && period == 0 {
		return nil
	}
	var props []sd.Property
	if period != 0 {
		props = append(props, sd.Property{Name: "CPUQuotaPeriodUSec", Value: dbus.MakeVariant(period)})
	} else {
		period = defaultPeriod
	}
	perSec := infinity
	if quota > 0 {
		perSec = uint64(quota) * 1000000 / period
		if perSec%10000 != 0 {
			perSec = (perSec/10000 + 1) * 10000
		}
	}
	return append(props, sd.Property{Name: "CPUQuotaPerSecUSec", Value: dbus.MakeVariant(perSec)})
}

// unifiedProperties translates the resources.unified keys systemd has
// properties for; the rest are only written to cgroupfs.
func unifiedProperties(unified map[string]string) ([]sd.Property, error) {
	var props []sd.Property
	named := map[string]string{
		"memory.high": "MemoryHigh", "memory.low": "MemoryLow", "memory.min": "MemoryMin",
		"memory.max": "MemoryMax", "memory.swap.max": "MemorySwapMax", "pids.max": "TasksMax",
	}
	for key, value := range unified {
		value = strings.TrimSpace(value)
		bad := func(err error) error { return fmt.Errorf("resources.unified %s=%q: %w", key, value, err) }
		switch key {
		case "memory.high", "memory.low", "memory.min", "memory.max", "memory.swap.max", "pids.max":
			n := infinity
			if value != "max" {
				var err error
				if n, err = strconv.ParseUint(value, 10, 64); err != nil {
					return nil, bad(err)
				}
			}
			props = append(props, sd.Property{Name: named[key], Value: dbus.MakeVariant(n)})
		case "cpu.weight":
			n, err := strconv.ParseUint(value, 10, 64)
			if err != nil {
				return nil, bad(err)
			}
			props = append(props, sd.Property{Name: "CPUWeight", Value: dbus.MakeVariant(n)})
		case "cpu.max":
			f := strings.Fields(value)
			if len(f) < 1 || len(f) > 2 {
				return nil, bad(errors.New("want QUOTA [PERIOD]"))
			}
			var quota int64
			period := uint64(defaultPeriod)
			var err error
			if f[0] != "max" {
				if quota, err = strconv.ParseInt(f[0], 10, 64); err != nil {
					return nil, bad(err)
				}
			}
			if len(f) == 2 {
				if period, err = strconv.ParseUint(f[1], 10, 64); err != nil {
					return nil, bad(err)
				}
			}
			props = append(props, cpuQuota(quota, period)...)
			if quota == 0 {
				// "max": unlimited, which cpuQuota only says for a period.
				props = append(props, sd.Property{Name: "CPUQuotaPerSecUSec", Value: dbus.MakeVariant(infinity)})
			}
		case "cpuset.cpus", "cpuset.mems":
			bits, err := RangeToBits(value)
			if err != nil {
				return nil, bad(err)
			}
			name := map[string]string{"cpuset.cpus": "AllowedCPUs", "cpuset.mems": "AllowedMemoryNodes"}[key]
			props = append(props, sd.Property{Name: name, Value: dbus.MakeVariant(bits)})
		}
	}
	return props, nil
}

// RangeToBits turns a cpuset list ("0-2,7") into systemd's CPU mask for
// AllowedCPUs and AllowedMemoryNodes: byte i holds CPUs 8i to 8i+7, the
// lowest in bit 0.
func RangeToBits(list string) ([]byte, error) {
	var bits []byte
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("bad cpu list %q: %w", list, err)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return nil, fmt.Errorf("bad cpu list %q: %w", list, err)
			}
		}
		if last < first {
			return nil, fmt.Errorf("bad cpu list %q: range %s runs backwards", list, part)
		}
		for n := first; n <= last; n++ {
			for uint64(len(bits)) <= n/8 {
				bits = append(bits, 0)
			}
			bits[n/8] |= 1 << (n % 8)
		}
	}
	if len(bits) == 0 {
		return nil, fmt.Errorf("bad cpu list %q: empty", list)
	}
	return bits, nil
}

// Without returns props less those named.
func Without(props []sd.Property, names ...string) []sd.Property {
	var out []sd.Property
	for _, p := range props {
		keep := true
		for _, n := range names {
			keep = keep && p.Name != n
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

// unitProperties are the properties of the unit itself, as runc's driver
// sets them: a scope in its slice with its cgroup delegated (the
// container may make cgroups below it), a slice wanted by its parent,
// accounting on, and no default dependencies (a container's unit must
// not be ordered after shutdown targets).
func unitProperties(u Unit, pid int, id string) []sd.Property {
	props := []sd.Property{sd.PropDescription("berth container " + id)}
	if u.IsSlice() {
		props = append(props, sd.PropWants(u.Slice))
	} else {
		props = append(props, sd.PropSlice(u.Slice), sd.Property{Name: "Delegate", Value: dbus.MakeVariant(true)})
	}
	if pid > 0 {
		props = append(props, sd.PropPids(uint32(pid)))
	}
	for _, name := range []string{"MemoryAccounting", "CPUAccounting", "IOAccounting", "TasksAccounting"} {
		props = append(props, sd.Property{Name: name, Value: dbus.MakeVariant(true)})
	}
	return append(props, sd.Property{Name: "DefaultDependencies", Value: dbus.MakeVariant(false)})
}

// jobTimeout bounds the wait for systemd to start or stop a unit.
const jobTimeout = 30 * time.Second

var (
	connMu sync.Mutex
	conn   *sd.Conn
)

// connect returns this process's connection to systemd, made on first
// use: only the --systemd-cgroup path pays for it.
func connect() (*sd.Conn, error) {
	connMu.Lock()
	defer connMu.Unlock()
	if conn != nil && conn.Connected() {
		return conn, nil
	}
	// Not a context with a deadline: godbus closes the connection when
	// its context ends.
	c, err := sd.NewSystemdConnectionContext(context.Background())
	if err != nil {
		return nil, fmt.Errorf("connect to systemd at /run/systemd/private: %w", err)
	}
	conn = c
	return c, nil
}

// Start creates the container's transient unit with its init stage (pid)
// in it and the given resource properties, and waits until systemd has
// started it. A unit of that name must not exist yet.
func Start(u Unit, pid int, id string, resources []sd.Property) error {
	c, err := connect()
	if err != nil {
		return err
	}
	props := append(unitProperties(u, pid, id), resources...)
	done := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	if _, err := c.StartTransientUnitContext(ctx, u.Name, "replace", props, done); err != nil {
		return fmt.Errorf("systemd: start unit %s: %w", u.Name, err)
	}
	if err := waitJob(ctx, done); err != nil {
		_ = c.ResetFailedUnitContext(context.Background(), u.Name)
		return fmt.Errorf("systemd: start unit %s: %w", u.Name, err)
	}
	return nil
}

// Set changes properties of a running unit, for this boot only, as
// runc's update does.
func Set(name string, props []sd.Property) error {
	if len(props) == 0 {
		return nil
	}
	c, err := connect()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	if err := c.SetUnitPropertiesContext(ctx, name, true, props...); err != nil {
		return fmt.Errorf("systemd: set properties of %s: %w", name, err)
	}
	return nil
}

// Stop stops the unit (systemd kills what is left in it and removes its
// cgroup) and forgets a failed state. A unit that is gone already, as a
// scope is once its last process exits, is not an error.
func Stop(name string) error {
	c, err := connect()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	done := make(chan string, 1)
	_, err = c.StopUnitContext(ctx, name, "replace", done)
	if err == nil {
		err = waitJob(ctx, done)
	}
	_ = c.ResetFailedUnitContext(ctx, name)
	if err != nil && !isDBusError(err, "org.freedesktop.systemd1.NoSuchUnit") {
		return fmt.Errorf("systemd: stop unit %s: %w", name, err)
	}
	return nil
}

func waitJob(ctx context.Context, done <-chan string) error {
	select {
	case result := <-done:
		if result != "done" {
			return fmt.Errorf("the job ended %q", result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no answer from systemd: %w", ctx.Err())
	}
}

func isDBusError(err error, name string) bool {
	var e dbus.Error
	return errors.As(err, &e) && e.Name == name
}
