package initproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/berth-runtime/berth/internal/procfs"
	"github.com/berth-runtime/berth/internal/rootfs"
	"golang.org/x/sys/unix"
)

// The compact config is what berth-stage, the C init stage
// (cmd/berth-stage), reads in place of this stage's JSON: a magic number,
// then records of a tag, a length and a payload, in the machine's byte
// order (cmd/berth-stage/wire.h describes each record). EncodeCompact
// makes it for the configs that the C stage knows how to run, and refuses
// with ErrNotCompact the others, which go to berth-init.

// ErrNotCompact is wrapped by EncodeCompact's error when the config uses
// something berth-stage does not do; berth-init runs it instead.
var ErrNotCompact = errors.New("the config needs berth-init")

// The wire form's constants. They must match cmd/berth-stage/wire.h (and
// mount kinds cmd/berth-stage/stage.h): the C stage refuses a message it
// does not read the same way.
const (
	wireMagic = 0x31435342 // "BSC1" read as a little-endian u32

	wireMaxMessage = 4 << 20   // bytes
	wireMaxPath    = 4096      // a path or other short string, in bytes
	wireMaxArg     = 128 << 10 // an argument or environment entry
	wireMaxList    = 4096      // entries of any repeated tag
	wireMaxSeccomp = 4096      // instructions

	maxPropagation = 4 // per mount

	mountFS     = 1
	mountBind   = 2
	mountCgroup = 3

	tDieWithParent   = 1
	tExecFifoFD      = 2
	tPidsLimit       = 3
	tCgroupTask      = 4
	tNewCgroupNS     = 5
	tNewNetNS        = 6
	tNewKeyring      = 7
	tHostname        = 8
	tDomainname      = 9
	tSysctl          = 10
	tHookPause       = 11
	tNetNSFD         = 12
	tRoot            = 20
	tReadonlyRoot    = 21
	tPropagation     = 22
	tRootPropagation = 23
	tOverlayDir      = 24
	tOverlayData     = 25
	tMount           = 26
	tMSource         = 27
	tMDest           = 28
	tMType           = 29
	tMData           = 30
	tMFlags          = 31
	tMPropagation    = 32
	tMAttr           = 33
	tDevice          = 34
	tCgroupHierarchy = 35
	tCgroupPath      = 36
	tMasked          = 37
	tReadonlyPath    = 38
	tMkcwd           = 39
	tArg             = 50
	tEnv             = 51
	tCwd             = 52
	tUser            = 53
	tGids            = 54
	tUmask           = 55
	tCaps            = 56
	tNoNewPrivs      = 57
	tRlimit          = 58
	tOOMScoreAdj     = 59
	tDevNull         = 60
	tSeccomp         = 61
	tSeccompFlags    = 62
	tPreserveFDs     = 63
)

// Limits of the C stage's own.
const (
	// compactSeccompFlags are the seccomp flags berth-stage installs
	// with; it has no listener to pass and is single-threaded.
	compactSeccompFlags = unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
	compactMaxFD        = math.MaxInt32     // an int there
	compactMaxPreserve  = math.MaxInt32 - 3 // 3+n stays an int there
)

// notCompact is the error for a config the C stage cannot run.
func notCompact(why string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotCompact, fmt.Sprintf(why, args...))
}

// EncodeCompact returns cfg in the compact config's wire form, or an error
// wrapping ErrNotCompact that names what berth-stage does not do.
//
// It runs on every container start, so it makes one slice of the exact
// size: a first pass over the config counts the bytes (and checks the
// strings), the second appends them.
func EncodeCompact(cfg *Config) ([]byte, error) {
	if err := checkCompact(cfg); err != nil {
		return nil, err
	}
	var overlayData string
	if o := cfg.Rootfs.Overlay; o != nil {
		overlayData = o.Data()
		if len(overlayData) >= os.Getpagesize() {
			// mountRoot's own limit: berth-init would report it.
			return nil, notCompact("too many image layers (%d) for one overlay mount", len(o.Lower))
		}
	}
	w := &wire{sizing: true, overlayData: overlayData, sysctlKeys: sortedKeys(cfg.Sysctl)}
	w.config(cfg)
	if w.err != nil {
		return nil, w.err
	}
	if w.n > wireMaxMessage {
		return nil, notCompact("a config of %d bytes, above %d", w.n, wireMaxMessage)
	}
	w.sizing, w.b = false, make([]byte, 0, w.n)
	w.config(cfg)
	return w.b, nil
}

// checkCompact refuses what berth-stage leaves to berth-init: features it
// does not have, and values its wire form cannot carry.
func checkCompact(cfg *Config) error {
	r, p := &cfg.Rootfs, &cfg.Process
	switch {
	case cfg.Exec || cfg.Target != nil:
		return notCompact("exec into a running container")
	case len(cfg.Join) > 0:
		return notCompact("namespaces to join")
	case len(cfg.CreateContainerHooks) > 0 || len(cfg.StartContainerHooks) > 0:
		return notCompact("container hooks")
	case cfg.NoPivot:
		return notCompact("no pivot_root")
	case r.SharedMounts:
		return notCompact("no mount namespace")
	case p.Terminal:
		return notCompact("a terminal")
	case r.Overlay != nil && (r.Overlay.IDMap != nil || r.Overlay.Shifted || r.Overlay.TreeFD != 0):
		return notCompact("an idmapped or shifted overlay")
	case len(r.CgroupTreeFDs) > 0:
		return notCompact("cloned cgroup trees")
	case p.SeccompFlags&^compactSeccompFlags != 0:
		return notCompact("seccomp flags %#x", p.SeccompFlags&^compactSeccompFlags)
	case len(p.Seccomp)%8 != 0 || len(p.Seccomp) > 8*wireMaxSeccomp:
		return notCompact("a seccomp program of %d bytes", len(p.Seccomp))
	case len(p.Args) == 0:
		return notCompact("no program arguments")
	case cfg.ExecFifoFD < 0 || cfg.ExecFifoFD > compactMaxFD:
		return notCompact("exec FIFO descriptor %d", cfg.ExecFifoFD)
	case cfg.NetNSFD < 0 || cfg.NetNSFD > compactMaxFD:
		return notCompact("network namespace descriptor %d", cfg.NetNSFD)
	case cfg.PidsLimit != nil && (cfg.PidsLimit.FD < 0 || cfg.PidsLimit.FD > compactMaxFD):
		return notCompact("pids limit descriptor %d", cfg.PidsLimit.FD)
	case cfg.PreserveFDs < 0 || cfg.PreserveFDs > compactMaxPreserve:
		return notCompact("%d preserved descriptors", cfg.PreserveFDs)
	case p.OOMScoreAdj != nil && (*p.OOMScoreAdj < math.MinInt32 || *p.OOMScoreAdj > math.MaxInt32):
		return notCompact("oom_score_adj %d", *p.OOMScoreAdj)
	}
	for _, l := range []struct {
		what string
		n    int
	}{
		{"cgroup tasks files", len(cfg.CgroupTasks)}, {"mounts", len(r.Mounts)}, {"devices", len(r.Devices)},
		{"cgroup hierarchies", len(r.CgroupHierarchies)}, {"masked paths", len(r.MaskedPaths)},
		{"read-only paths", len(r.ReadonlyPaths)}, {"arguments", len(p.Args)}, {"environment entries", len(p.Env)},
		{"sysctls", len(cfg.Sysctl)}, {"additional groups", len(p.AdditionalGids)}, {"rlimits", len(p.Rlimits)}, {"/dev/null descriptors", len(p.DevNull)},
	} {
		if l.n > wireMaxList {
			return notCompact("%d %s, above %d", l.n, l.what, wireMaxList)
		}
	}
	for k, v := range cfg.Sysctl {
		// A bad name is berth-init's to report, in its words.
		if !procfs.ValidSysctl(k) {
			return notCompact("sysctl %q", k)
		}
		if len(k)+len(v) > wireMaxPath {
			return notCompact("sysctl %s of %d bytes, above %d", k, len(k)+len(v), wireMaxPath)
		}
	}
	for _, m := range r.Mounts {
		if err := checkCompactMount(m); err != nil {
			return err
		}
	}
	for _, fd := range p.DevNull {
		if fd < 0 || fd > 2 {
			return notCompact("/dev/null on descriptor %d", fd)
		}
	}
	for _, l := range p.Rlimits {
		if l.Resource < 0 || int64(l.Resource) > math.MaxUint32 {
			return notCompact("rlimit resource %d", l.Resource)
		}
	}
	return nil
}

// checkCompactMount refuses a mount that needs more than mount(2),
// propagation and mount_setattr.
func checkCompactMount(m rootfs.Mount) error {
	switch {
	case m.CopySymlink:
		return notCompact("mount %s: copy-symlink", m.Destination)
	case m.CopyUp:
		return notCompact("mount %s: tmpcopyup", m.Destination)
	case m.IDMap != nil:
		return notCompact("mount %s: an idmapped mount", m.Destination)
	case m.TreeFD != 0:
		return notCompact("mount %s: a cloned tree", m.Destination)
	case len(m.Propagation) > maxPropagation:
		return notCompact("mount %s: %d propagation options", m.Destination, len(m.Propagation))
	}
	return nil
}

// compactMountKind is how berth-stage mounts m (stage.h's mount_kind).
func compactMountKind(m rootfs.Mount) uint32 {
	switch {
	case m.IsBind():
		return mountBind
	case m.Type == "cgroup" || m.Type == "cgroup2":
		return mountCgroup
	}
	return mountFS
}

// wire writes the records, in two passes: sizing counts their bytes in n
// and checks their strings (the first that does not fit is kept in err),
// then the second appends them to b, made n bytes long.
type wire struct {
	sizing      bool
	n           int
	b           []byte
	err         error
	overlayData string   // Overlay.Data(), made once
	sysctlKeys  []string // the sysctls' names, sorted once
}

// sortedKeys is m's keys in order, in one allocation (none for none).
func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (w *wire) u32(v uint32) {
	if w.sizing {
		w.n += 4
		return
	}
	w.b = binary.NativeEndian.AppendUint32(w.b, v)
}

func (w *wire) u64(v uint64) {
	if w.sizing {
		w.n += 8
		return
	}
	w.b = binary.NativeEndian.AppendUint64(w.b, v)
}

// header starts a record of n bytes of payload.
func (w *wire) header(tag uint32, n int) {
	w.u32(tag)
	w.u32(uint32(n))
}

func (w *wire) flag(tag uint32, on bool) {
	if on {
		w.header(tag, 0)
	}
}

func (w *wire) rec32(tag, v uint32) {
	w.header(tag, 4)
	w.u32(v)
}

func (w *wire) rec64(tag uint32, v uint64) {
	w.header(tag, 8)
	w.u64(v)
}

// bytes appends s; sizing, it checks that s fits the C stage's string of
// at most limit bytes.
func (w *wire) bytes(what, s string, limit int) {
	if !w.sizing {
		w.b = append(w.b, s...)
		return
	}
	w.n += len(s)
	if w.err != nil {
		return
	}
	if strings.IndexByte(s, 0) >= 0 {
		w.err = notCompact("%s with a NUL byte", what)
	} else if len(s) > limit {
		w.err = notCompact("%s of %d bytes, above %d", what, len(s), limit)
	}
}

// str writes a string record, with prefix (integers) before its bytes.
func (w *wire) str(tag uint32, what, s string, limit int, prefix ...uint32) {
	w.header(tag, 4*len(prefix)+len(s))
	for _, v := range prefix {
		w.u32(v)
	}
	w.bytes(what, s, limit)
}

// optStr writes a string record only when s is set.
func (w *wire) optStr(tag uint32, what, s string) {
	if s != "" {
		w.str(tag, what, s, wireMaxPath)
	}
}

func (w *wire) strs(tag uint32, what string, list []string, limit int) {
	for _, s := range list {
		w.str(tag, what, s, limit)
	}
}

func (w *wire) config(cfg *Config) {
	w.u32(wireMagic)
	w.stage(cfg)
	w.rootfs(&cfg.Rootfs)
	w.process(&cfg.Process, cfg.PreserveFDs)
}

func (w *wire) stage(cfg *Config) {
	w.flag(tDieWithParent, cfg.DieWithParent)
	if cfg.ExecFifoFD != 0 {
		w.rec32(tExecFifoFD, uint32(cfg.ExecFifoFD))
	}
	if l := cfg.PidsLimit; l != nil {
		w.str(tPidsLimit, "the pids limit", l.Value, wireMaxPath, uint32(l.FD))
	}
	w.strs(tCgroupTask, "a cgroup tasks file", cfg.CgroupTasks, wireMaxPath)
	w.flag(tNewCgroupNS, cfg.NewCgroupNS)
	w.flag(tNewNetNS, cfg.NewNetNS)
	if cfg.NetNSFD != 0 {
		w.rec32(tNetNSFD, uint32(cfg.NetNSFD))
	}
	w.flag(tNewKeyring, cfg.NewKeyring)
	w.optStr(tHostname, "the hostname", cfg.Hostname)
	w.optStr(tDomainname, "the domain name", cfg.Domain)
	w.flag(tHookPause, cfg.HookPause)
	w.sysctls(cfg.Sysctl)
}

// sysctls writes one record per sysctl, sorted by name as berth-init
// writes them: the key's length, the key, the value.
func (w *wire) sysctls(m map[string]string) {
	for _, k := range w.sysctlKeys {
		w.header(tSysctl, 4+len(k)+len(m[k]))
		w.u32(uint32(len(k)))
		w.bytes("a sysctl name", k, wireMaxPath)
		w.bytes("a sysctl value", m[k], wireMaxPath)
	}
}

func (w *wire) rootfs(r *rootfs.Config) {
	w.str(tRoot, "the rootfs path", r.Root, wireMaxPath)
	w.flag(tReadonlyRoot, r.Readonly)
	if r.Propagation != 0 {
		w.rec64(tPropagation, uint64(r.Propagation))
	}
	if r.RootPropagation != 0 {
		w.rec64(tRootPropagation, uint64(r.RootPropagation))
	}
	if o := r.Overlay; o != nil {
		w.str(tOverlayDir, "the layers directory", o.LayersDir, wireMaxPath)
		w.str(tOverlayData, "the overlay's data", w.overlayData, wireMaxPath)
	}
	for i := range r.Mounts {
		w.mount(&r.Mounts[i])
	}
	for _, d := range r.Devices {
		w.str(tDevice, "a device path", d.Path, wireMaxPath, d.Mode, d.Major, d.Minor, d.UID, d.GID)
	}
	w.strs(tCgroupHierarchy, "a cgroup hierarchy", r.CgroupHierarchies, wireMaxPath)
	w.optStr(tCgroupPath, "the cgroup path", r.CgroupPath)
	w.strs(tMasked, "a masked path", r.MaskedPaths, wireMaxPath)
	w.strs(tReadonlyPath, "a read-only path", r.ReadonlyPaths, wireMaxPath)
	w.optStr(tMkcwd, "the working directory", r.Cwd)
}

// mount writes one mount: its kind, then its fields. A bind's type
// ("bind") is left out: stage.h has none for binds.
func (w *wire) mount(m *rootfs.Mount) {
	kind := compactMountKind(*m)
	w.rec32(tMount, kind)
	w.optStr(tMSource, "a mount source", m.Source)
	w.str(tMDest, "a mount destination", m.Destination, wireMaxPath)
	if kind != mountBind {
		w.optStr(tMType, "a mount type", m.Type)
	}
	w.optStr(tMData, "mount data", m.Data)
	if m.Flags != 0 {
		w.rec64(tMFlags, uint64(m.Flags))
	}
	for _, p := range m.Propagation {
		w.rec64(tMPropagation, uint64(p))
	}
	if m.RecAttrSet != 0 || m.RecAttrClr != 0 {
		w.header(tMAttr, 16)
		w.u64(m.RecAttrSet)
		w.u64(m.RecAttrClr)
	}
}

func (w *wire) process(p *Process, preserveFDs int) {
	w.strs(tArg, "an argument", p.Args, wireMaxArg)
	w.strs(tEnv, "an environment entry", p.Env, wireMaxArg)
	w.str(tCwd, "the working directory", p.Cwd, wireMaxPath)
	w.header(tUser, 8)
	w.u32(p.UID)
	w.u32(p.GID)
	if len(p.AdditionalGids) > 0 {
		w.header(tGids, 4*len(p.AdditionalGids))
		for _, g := range p.AdditionalGids {
			w.u32(g)
		}
	}
	if p.Umask != nil {
		w.rec32(tUmask, *p.Umask)
	}
	// stage.h's order, not caps.Sets's.
	w.header(tCaps, 40)
	w.u64(p.Caps.Bounding)
	w.u64(p.Caps.Effective)
	w.u64(p.Caps.Inheritable)
	w.u64(p.Caps.Permitted)
	w.u64(p.Caps.Ambient)
	w.flag(tNoNewPrivs, p.NoNewPrivileges)
	for _, l := range p.Rlimits {
		w.header(tRlimit, 24)
		w.u32(uint32(l.Resource))
		w.u32(0)
		w.u64(l.Soft)
		w.u64(l.Hard)
	}
	if p.OOMScoreAdj != nil {
		w.rec32(tOOMScoreAdj, uint32(int32(*p.OOMScoreAdj)))
	}
	for _, fd := range p.DevNull {
		w.rec32(tDevNull, uint32(fd))
	}
	if len(p.Seccomp) > 0 {
		w.seccomp(p.Seccomp)
	}
	if p.SeccompFlags != 0 {
		w.rec32(tSeccompFlags, uint32(p.SeccompFlags))
	}
	if preserveFDs != 0 {
		w.rec32(tPreserveFDs, uint32(preserveFDs))
	}
}

// seccomp writes the filter in the kernel's struct sock_filter layout, in
// the machine's byte order: Process.Seccomp has it little-endian
// (EncodeFilter), a u16 code, two u8 jumps and a u32 k.
func (w *wire) seccomp(prog []byte) {
	w.header(tSeccomp, len(prog))
	if w.sizing {
		w.n += len(prog)
		return
	}
	for in := prog; len(in) >= 8; in = in[8:] {
		w.b = binary.NativeEndian.AppendUint16(w.b, binary.LittleEndian.Uint16(in))
		w.b = append(w.b, in[2], in[3])
		w.b = binary.NativeEndian.AppendUint32(w.b, binary.LittleEndian.Uint32(in[4:]))
	}
}
