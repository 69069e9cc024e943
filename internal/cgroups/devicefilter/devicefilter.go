// Package devicefilter enforces a container's device cgroup rules on
// cgroup v2.
//
// cgroup v2 has no devices.allow or devices.deny. The kernel instead runs
// the BPF_PROG_TYPE_CGROUP_DEVICE programs attached to a cgroup on every
// mknod and every open of a device node by its members, and refuses the
// access with EPERM unless they all return 1. Without such a program a
// container's root, which keeps CAP_MKNOD, could create a node for the
// host's disk and read it; so the program fails closed: a request that no
// rule matches is denied.
//
// The OCI runtime spec applies device rules in the listed order, as writes
// to the v1 devices.allow and devices.deny files, so a later rule overrides
// earlier ones for the devices it covers. A BPF program can only stop at
// the first test that matches. Emitting the rules last to first makes the
// two agree: the first block that matches in the program is the last
// matching rule in the list, and it returns that rule's verdict. For the
// same reason a rule that matches every request, such as the leading
// "deny all" of Docker's list or an "a *:* rwm" allow, ends the program:
// every rule listed before it can never decide anything, and is left out
// because the verifier rejects unreachable instructions.
//
// An open for read and write is a single request carrying two access bits,
// so allow and deny rules read the access set differently. An allow rule
// matches only if it grants every requested bit, as v1 demands one
// exception covering the whole request. A deny rule matches as soon as it
// names any requested bit, as a v1 deny-list refuses a partially denied
// request; were it matched like an allow, "allow c 1:3 rwm" followed by
// "deny c 1:3 w" would still let a read-write open through.
//
// Where v1 is looser this package stays strict: v1 removes an allowed
// exception only when a deny names exactly the same device pattern, and
// merges the access of identical allow patterns; here a later deny always
// wins over what it matches, and each allow rule stands alone.
package devicefilter

import (
	"fmt"
	"math"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Kernel ABI of struct bpf_cgroup_dev_ctx (include/uapi/linux/bpf.h).
const (
	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR

	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2 // BPF_DEVCG_ACC_READ
	accWrite = 4 // BPF_DEVCG_ACC_WRITE
	accAll   = accMknod | accRead | accWrite

	anyType   = 0
	anyNumber = -1
)

// Program return values: the kernel allows the access only on 1.
const (
	verdictDeny  = 0
	verdictAllow = 1
)

// rule is a validated LinuxDeviceCgroup.
type rule struct {
	allow  bool
	typ    int32 // devBlock, devChar or anyType
	major  int64 // anyNumber or 0..MaxUint32
	minor  int64
	access int32 // accMknod|accRead|accWrite bits
}

// Compile turns device cgroup rules, in OCI order, into a
// BPF_PROG_TYPE_CGROUP_DEVICE program. An empty list denies every device.
func Compile(rules []specs.LinuxDeviceCgroup) ([]Insn, error) {
	parsed := make([]rule, len(rules))
	for i, r := range rules {
		p, err := parseRule(r)
		if err != nil {
			return nil, fmt.Errorf("device rule %d: %w", i, err)
		}
		parsed[i] = p
	}
	prog := prologue()
	for i := len(parsed) - 1; i >= 0; i-- {
		prog = append(prog, parsed[i].block()...)
		if parsed[i].matchesAll() {
			return prog, nil
		}
	}
	return append(prog, mov64Imm(r0, verdictDeny), exit()), nil
}

// parseRule validates r. An empty Access means "rwm", as in the v1 path;
// a negative major or minor is a wildcard, as runc and crun read it.
func parseRule(r specs.LinuxDeviceCgroup) (rule, error) {
	p := rule{allow: r.Allow, major: anyNumber, minor: anyNumber}
	var err error
	if p.typ, err = parseType(r.Type); err != nil {
		return rule{}, err
	}
	if p.major, err = parseNumber("major", r.Major); err != nil {
		return rule{}, err
	}
	if p.minor, err = parseNumber("minor", r.Minor); err != nil {
		return rule{}, err
	}
	if p.access, err = parseAccess(r.Access); err != nil {
		return rule{}, err
	}
	if !p.allow && p.typ == anyType && p.major == anyNumber && p.minor == anyNumber {
		// "Deny all", whatever access it names: v1 resets on any "a" deny.
		p.access = accAll
	}
	return p, nil
}

func parseType(t string) (int32, error) {
	switch t {
	case "", "a":
		return anyType, nil
	case "b":
		return devBlock, nil
	case "c":
		return devChar, nil
	}
	return 0, fmt.Errorf("invalid device type %q: want \"a\", \"b\" or \"c\"", t)
}

func parseNumber(what string, n *int64) (int64, error) {
	switch {
	case n == nil || *n < 0:
		return anyNumber, nil
	case *n > math.MaxUint32:
		return 0, fmt.Errorf("invalid %s %d: above %d", what, *n, uint32(math.MaxUint32))
	}
	return *n, nil
}

func parseAccess(s string) (int32, error) {
	if s == "" {
		return accAll, nil
	}
	var acc int32
	for _, c := range s {
		switch c {
		case 'r':
			acc |= accRead
		case 'w':
			acc |= accWrite
		case 'm':
			acc |= accMknod
		default:
			return 0, fmt.Errorf("invalid device access %q: %q is not one of r, w, m", s, c)
		}
	}
	return acc, nil
}

// prologue unpacks struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
// u32 minor; }, where access_type is (access << 16) | type.
func prologue() []Insn {
	return []Insn{
		loadWord(r2, r1, 0),
		alu32Imm(aluAND, r2, 0xffff),
		loadWord(r3, r1, 0),
		alu32Imm(aluRSH, r3, 16),
		loadWord(r4, r1, 4),
		loadWord(r5, r1, 8),
	}
}

// matchesAll reports whether the rule's block has no test, so that it
// decides every request that reaches it.
func (r rule) matchesAll() bool {
	return r.typ == anyType && r.major == anyNumber && r.minor == anyNumber && r.access == accAll
}

// block returns the tests of r, each jumping past the block on a mismatch,
// followed by the rule's verdict.
func (r rule) block() []Insn {
	var b blockBuilder
	if r.typ != anyType {
		b.skipIf(jmp32Imm(jmpJNE, r2, r.typ, 0))
	}
	r.accessTest(&b)
	if r.major != anyNumber {
		b.skipIf(jmp32Imm(jmpJNE, r4, int32(uint32(r.major)), 0))
	}
	if r.minor != anyNumber {
		b.skipIf(jmp32Imm(jmpJNE, r5, int32(uint32(r.minor)), 0))
	}
	verdict := int32(verdictDeny)
	if r.allow {
		verdict = verdictAllow
	}
	return b.finish(verdict)
}

// accessTest skips an allow rule unless it grants every requested bit, and
// a deny rule unless it names at least one of them. Rules naming all of
// rwm need no test.
func (r rule) accessTest(b *blockBuilder) {
	if r.access == accAll {
		return
	}
	if r.allow {
		// if (access & ~rule.access) goto next
		b.skipIf(jmp32Imm(jmpJSET, r3, accAll&^r.access, 0))
		return
	}
	// r1 = access & rule.access; if (r1 == 0) goto next
	b.add(mov32Reg(r1, r3))
	b.add(alu32Imm(aluAND, r1, r.access))
	b.skipIf(jmp32Imm(jmpJEQ, r1, 0, 0))
}

// blockBuilder collects one rule's instructions and the jumps that must
// land just past its end.
type blockBuilder struct {
	insns []Insn
	skips []int
}

func (b *blockBuilder) add(in Insn) { b.insns = append(b.insns, in) }

func (b *blockBuilder) skipIf(jump Insn) {
	b.skips = append(b.skips, len(b.insns))
	b.add(jump)
}

func (b *blockBuilder) finish(verdict int32) []Insn {
	b.add(mov64Imm(r0, verdict))
	b.add(exit())
	for _, i := range b.skips {
		b.insns[i].Off = int16(len(b.insns) - i - 1)
	}
	return b.insns
}
