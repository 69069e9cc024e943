package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The runtime spec's names, of which Supported reports those berth takes.
var (
	specActions = []specs.LinuxSeccompAction{
		specs.ActAllow, specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread,
		specs.ActLog, specs.ActNotify, specs.ActTrace, specs.ActTrap,
	}
	specOperators = []specs.LinuxSeccompOperator{
		specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpLessEqual,
		specs.OpLessThan, specs.OpMaskedEqual, specs.OpNotEqual,
	}
	specArches = []specs.Arch{
		specs.ArchAARCH64, specs.ArchARM, specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32,
		specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
		specs.ArchPPC64LE, specs.ArchRISCV64, specs.ArchS390, specs.ArchS390X, specs.ArchX32,
		specs.ArchX86, specs.ArchX86_64,
	}
	// KnownFlags are the seccomp(2) filter flags the spec names.
	KnownFlags = []specs.LinuxSeccompFlag{
		specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv,
		"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_NEW_LISTENER",
	}
)

// Features is what a profile may use, as berth-oci features reports it.
type Features struct {
	Actions, Operators, Archs, Flags []string
}

// Supported finds what Compile and Flags accept by asking them, one
// profile per name, so that the report cannot drift from the checks.
func Supported() Features {
	var f Features
	accepts := func(p *specs.LinuxSeccomp) bool {
		if p.DefaultAction == "" {
			p.DefaultAction = specs.ActAllow
		}
		_, err := Compile(p)
		return err == nil
	}
	for _, a := range specActions {
		rule := []specs.LinuxSyscall{{Names: []string{"uname"}, Action: a}}
		// Notification needs an agent's socket; the profile names one.
		if accepts(&specs.LinuxSeccomp{Syscalls: rule}) || accepts(&specs.LinuxSeccomp{Syscalls: rule, ListenerPath: "/agent.sock"}) {
			f.Actions = append(f.Actions, string(a))
		}
	}
	for _, op := range specOperators {
		arg := []specs.LinuxSeccompArg{{Index: 0, Value: 1, ValueTwo: 1, Op: op}}
		if accepts(&specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActErrno, Args: arg}}}) {
			f.Operators = append(f.Operators, string(op))
		}
	}
	for _, a := range specArches {
		if accepts(&specs.LinuxSeccomp{Architectures: []specs.Arch{a}}) {
			f.Archs = append(f.Archs, string(a))
		}
	}
	for _, fl := range KnownFlags {
		if _, err := Flags(&specs.LinuxSeccomp{Flags: []specs.LinuxSeccompFlag{fl}}); err == nil {
			f.Flags = append(f.Flags, string(fl))
		}
	}
	return f
}
