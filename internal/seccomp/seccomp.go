package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cond is one argument comparison. A low32 one looks at the low half of
// the argument only, and its values are below 2^32.
type cond struct {
	index         uint
	op            specs.LinuxSeccompOperator
	value, value2 uint64
	low32         bool
}

// rule is a conjunction of comparisons and the action taken when it holds.
type rule struct {
	conds []cond
	ret   uint32
}

// syscallRules are the rules of one syscall on one architecture. The
// conditional ones are in archRules.conditions: few syscalls have any,
// and this small entry keeps the per-number slice small to allocate.
type syscallRules struct {
	used   bool   // the profile has rules for it
	uncond bool   // an unconditional rule decides the syscall
	ret    uint32 // its action
}

// archRules is what the profile says about one architecture.
type archRules struct {
	arch       *arch
	syscalls   []syscallRules    // by syscall number - arch.lo
	conditions map[uint32][]rule // by syscall number - arch.lo: tried in order unless uncond
	maxNr      uint64            // highest syscall number the profile names
	named      bool              // the profile names at least one of its syscalls
}

// filter is a checked profile, ready for code generation.
type filter struct {
	def    uint32 // default action
	enosys bool   // syscalls above maxNr get ENOSYS
	arches []*archRules
}

// Compile checks the profile and builds the filter program. Unknown syscall
// names are skipped, per architecture, as libseccomp skips names an
// architecture lacks. Unknown actions, operators, argument indexes,
// architectures and flags are errors naming the field.
func Compile(p *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	f, err := check(p)
	if err != nil {
		return nil, err
	}
	prog, err := generate(f)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return prog, nil
}

// Flags returns the seccomp(2) filter flags the profile asks for, for
// Install: SECCOMP_FILTER_FLAG_LOG and SECCOMP_FILTER_FLAG_SPEC_ALLOW as
// listed, and SECCOMP_FILTER_FLAG_NEW_LISTENER when a rule uses
// SCMP_ACT_NOTIFY (listing that flag adds nothing more).
func Flags(p *specs.LinuxSeccomp) (uint, error) {
	var flags uint
	for i, fl := range p.Flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case "SECCOMP_FILTER_FLAG_NEW_LISTENER":
		case specs.LinuxSeccompFlagWaitKillableRecv:
			return 0, fmt.Errorf("seccomp: flags[%d]: %s is not supported", i, fl)
		case "SECCOMP_FILTER_FLAG_TSYNC":
			return 0, fmt.Errorf("seccomp: flags[%d]: %s is not supported: the filter is installed on the one thread that execs the container process", i, fl)
		default:
			return 0, fmt.Errorf("seccomp: flags[%d]: unknown flag %q", i, fl)
		}
	}
	if Notifies(p) {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	return flags, nil
}

// Notifies tells whether a rule of the profile sends syscalls to a seccomp
// agent (SCMP_ACT_NOTIFY): the filter then comes with a listener, which
// the runtime passes to the agent at listenerPath.
func Notifies(p *specs.LinuxSeccomp) bool {
	return p != nil && slices.ContainsFunc(p.Syscalls, func(sc specs.LinuxSyscall) bool { return sc.Action == specs.ActNotify })
}

// checkNotify applies runc's rules for SCMP_ACT_NOTIFY. The runtime's init
// writes the listener's number to its parent with write(2) after the
// filter is in place, before the agent has the listener: a notified write
// would wait for ever. (runc compat: its tests match these messages.)
func checkNotify(p *specs.LinuxSeccomp) error {
	if p.DefaultAction == specs.ActNotify {
		return errors.New("seccomp: SCMP_ACT_NOTIFY cannot be used as default action")
	}
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActNotify && slices.Contains(sc.Names, "write") {
			return errors.New("seccomp: SCMP_ACT_NOTIFY cannot be used for the write syscall")
		}
	}
	if Notifies(p) && p.ListenerPath == "" {
		return errors.New("seccomp: SCMP_ACT_NOTIFY needs listenerPath, the socket of the seccomp agent that answers the notifications")
	}
	return nil
}

func check(p *specs.LinuxSeccomp) (*filter, error) {
	if p == nil {
		return nil, errors.New("seccomp: no profile")
	}
	if runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("seccomp: only amd64 hosts are supported, not %s", runtime.GOARCH)
	}
	if _, err := Flags(p); err != nil {
		return nil, err
	}
	if err := checkNotify(p); err != nil {
		return nil, err
	}
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	f := &filter{def: def, enosys: wantsENOSYS(p.DefaultAction, def)}
	if f.arches, err = archList(p.Architectures); err != nil {
		return nil, err
	}
	for i, sc := range p.Syscalls {
		if err := f.add(sc); err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]%w", i, err)
		}
	}
	return f, nil
}

// wantsENOSYS tells whether syscalls newer than the profile get ENOSYS,
// which runc does unless the default action lets them run anyway.
func wantsENOSYS(a specs.LinuxSeccompAction, def uint32) bool {
	switch a {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return false
	}
	return def != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)
}

// archList returns the native architecture and the listed ones this host
// runs, once each. Other known names are accepted and left out, as their
// syscalls never reach this kernel's filter; unknown names are errors, as
// in runc.
func archList(names []specs.Arch) ([]*archRules, error) {
	list := []*archRules{{arch: findArch(nativeArch)}}
	for i, n := range names {
		if !slices.Contains(knownArches, n) {
			return nil, fmt.Errorf("seccomp: architectures[%d]: unknown architecture %q", i, n)
		}
		a := findArch(n)
		if a == nil {
			continue
		}
		if !slices.ContainsFunc(list, func(r *archRules) bool { return r.arch == a }) {
			list = append(list, &archRules{arch: a})
		}
	}
	for _, r := range list {
		r.syscalls = make([]syscallRules, r.arch.size())
	}
	return list, nil
}

// add records one profile entry on every architecture. Errors start with
// the field path below syscalls[i].
func (f *filter) add(sc specs.LinuxSyscall) error {
	if len(sc.Names) == 0 {
		return errors.New(".names: empty")
	}
	ret, err := action(sc.Action, sc.ErrnoRet)
	if err != nil {
		return fmt.Errorf(".action: %w", err)
	}
	conds := make([]cond, 0, len(sc.Args))
	for j, arg := range sc.Args {
		c, err := argCond(arg)
		if err != nil {
			return fmt.Errorf(".args[%d]%w", j, err)
		}
		conds = append(conds, c)
	}
	// Each name is looked up once, for all architectures; the numbers of
	// a short list stay on the stack.
	var buf [16][3]uint32
	nrs := buf[:0]
	if len(sc.Names) > len(buf) {
		nrs = make([][3]uint32, 0, len(sc.Names))
	}
	for _, name := range sc.Names {
		n, _ := lookupAll(name)
		nrs = append(nrs, n)
	}
	for _, r := range splitRule(rule{conds: conds, ret: ret}) {
		var narrow rule // r as the 32-bit ABIs read it, made once for both
		for _, ar := range f.arches {
			ar32 := r
			if ar.arch.args32 && len(r.conds) > 0 {
				if narrow.conds == nil {
					narrow = r.low32()
				}
				ar32 = narrow
			}
			ar.add(nrs, ar32, ret == f.def)
		}
	}
	return nil
}

// splitRule applies runc's reading of a rule whose comparisons name one
// argument twice: each comparison becomes a rule of its own, so they are
// ORed ("allow if arg0 == 100, arg0 == 9001" allows both values), where
// the comparisons of other rules are ANDed. (runc compat: its
// seccomp.bats "-ENOSYS handling" tests this; a range written as two
// comparisons of one argument thus matches either bound, as with runc.)
func splitRule(r rule) []rule {
	var seen [6]bool
	repeated := false
	for _, c := range r.conds {
		repeated = repeated || seen[c.index]
		seen[c.index] = true
	}
	if !repeated {
		return []rule{r}
	}
	out := make([]rule, len(r.conds))
	for i, c := range r.conds {
		out[i] = rule{conds: []cond{c}, ret: r.ret}
	}
	return out
}

// low32 returns r as the 32-bit ABIs (i386, x32) compare it: only the low
// 32 bits of an argument and of the rule's values count, as libseccomp
// does. An i386 syscall gets the low halves of the registers while
// seccomp_data holds them whole, and a 64-bit program can set the upper
// halves before INT $0x80: a 64-bit comparison would judge a value the
// syscall never sees.
func (r rule) low32() rule {
	conds := make([]cond, len(r.conds))
	for i, c := range r.conds {
		conds[i] = cond{index: c.index, op: c.op, value: uint64(uint32(c.value)), value2: uint64(uint32(c.value2)), low32: true}
	}
	return rule{conds: conds, ret: r.ret}
}

// add applies libseccomp's rule merging: the first unconditional rule
// decides and drops the conditional ones; rules with the default action
// only count for the highest syscall number.
// nrs are the numbers of the rule's names, from lookupAll.
func (ar *archRules) add(nrs [][3]uint32, r rule, isDefault bool) {
	for _, n := range nrs {
		nr, ok := ar.arch.nr(n)
		if !ok {
			continue
		}
		ar.named = true
		ar.maxNr = max(ar.maxNr, uint64(nr))
		if isDefault {
			continue
		}
		s := ar.rules(nr)
		switch {
		case s.uncond:
		case len(r.conds) == 0:
			*s = syscallRules{used: true, uncond: true, ret: r.ret}
			delete(ar.conditions, nr-uint32(ar.arch.lo))
		default:
			if ar.conditions == nil {
				ar.conditions = map[uint32][]rule{}
			}
			off := nr - uint32(ar.arch.lo)
			ar.conditions[off] = append(ar.conditions[off], r)
		}
	}
}

// rules returns the rules of syscall nr, adding them if new.
func (ar *archRules) rules(nr uint32) *syscallRules {
	i := int(uint64(nr) - ar.arch.lo)
	ar.syscalls[i].used = true
	return &ar.syscalls[i]
}

// action encodes a profile action as a SECCOMP_RET_* value.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	var ret uint32
	switch a {
	case specs.ActKill, specs.ActKillThread:
		ret = unix.SECCOMP_RET_KILL_THREAD
	case specs.ActKillProcess:
		ret = unix.SECCOMP_RET_KILL_PROCESS
	case specs.ActTrap:
		ret = unix.SECCOMP_RET_TRAP
	case specs.ActAllow:
		ret = unix.SECCOMP_RET_ALLOW
	case specs.ActLog:
		ret = unix.SECCOMP_RET_LOG
	case specs.ActErrno, specs.ActTrace:
		return withData(a, errnoRet)
	case specs.ActNotify:
		ret = unix.SECCOMP_RET_USER_NOTIF
	default:
		return 0, fmt.Errorf("unknown action %q", a)
	}
	if errnoRet != nil {
		return 0, fmt.Errorf("errnoRet is only valid with %s and %s, not %s", specs.ActErrno, specs.ActTrace, a)
	}
	return ret, nil
}

// withData encodes ERRNO and TRACE, whose 16-bit data is errnoRet
// (EPERM when unset, as runc does).
func withData(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	ret := uint32(unix.SECCOMP_RET_ERRNO)
	if a == specs.ActTrace {
		ret = unix.SECCOMP_RET_TRACE
	}
	data := uint(unix.EPERM)
	if errnoRet != nil {
		data = *errnoRet
	}
	if data > unix.SECCOMP_RET_DATA {
		return 0, fmt.Errorf("errnoRet %d does not fit in 16 bits", data)
	}
	return ret | uint32(data), nil
}

// argCond checks one argument comparison. Errors start with the field
// path below args[j].
func argCond(arg specs.LinuxSeccompArg) (cond, error) {
	if arg.Index > 5 {
		return cond{}, fmt.Errorf(".index: %d is out of range 0-5", arg.Index)
	}
	switch arg.Op {
	case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
	default:
		return cond{}, fmt.Errorf(".op: unknown operator %q", arg.Op)
	}
	return cond{index: arg.Index, op: arg.Op, value: arg.Value, value2: arg.ValueTwo}, nil
}

// KnownActions returns the actions a profile may use, for berth-oci
// features.
func KnownActions() []string {
	return []string{
		string(specs.ActAllow), string(specs.ActErrno), string(specs.ActKill), string(specs.ActKillProcess),
		string(specs.ActKillThread), string(specs.ActLog), string(specs.ActNotify), string(specs.ActTrace), string(specs.ActTrap),
	}
}

// KnownOperators returns the comparison operators a profile may use.
func KnownOperators() []string {
	return []string{
		string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan), string(specs.OpLessEqual),
		string(specs.OpLessThan), string(specs.OpMaskedEqual), string(specs.OpNotEqual),
	}
}

// SupportedFlags returns the filter flags a profile may list.
func SupportedFlags() []string {
	return []string{string(specs.LinuxSeccompFlagLog), "SECCOMP_FILTER_FLAG_NEW_LISTENER", string(specs.LinuxSeccompFlagSpecAllow)}
}
