package devicefilter

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func num(n int64) *int64 { return &n }

func allowRule(typ string, major, minor *int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: major, Minor: minor, Access: access}
}

func denyRule(typ string, major, minor *int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: false, Type: typ, Major: major, Minor: minor, Access: access}
}

var denyAll = denyRule("", nil, nil, "rwm")

// dockerRules is Docker's default device list.
func dockerRules() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
		denyAll,
		allowRule("c", nil, nil, "m"),
		allowRule("b", nil, nil, "m"),
		allowRule("c", num(1), num(3), "rwm"),    // null
		allowRule("c", num(1), num(5), "rwm"),    // zero
		allowRule("c", num(1), num(7), "rwm"),    // full
		allowRule("c", num(1), num(8), "rwm"),    // random
		allowRule("c", num(1), num(9), "rwm"),    // urandom
		allowRule("c", num(5), num(0), "rwm"),    // tty
		allowRule("c", num(5), num(1), "rwm"),    // console
		allowRule("c", num(5), num(2), "rwm"),    // ptmx
		allowRule("c", num(136), nil, "rwm"),     // pts
		allowRule("c", num(10), num(200), "rwm"), // tun
	}
}

// request is one struct bpf_cgroup_dev_ctx.
type request struct {
	typ, access, major, minor uint32
}

func (q request) String() string {
	t := map[uint32]string{devBlock: "b", devChar: "c"}[q.typ]
	var acc string
	for _, a := range []struct {
		bit uint32
		c   string
	}{{accRead, "r"}, {accWrite, "w"}, {accMknod, "m"}} {
		if q.access&a.bit != 0 {
			acc += a.c
		}
	}
	return fmt.Sprintf("%s %d:%d %s", t, q.major, q.minor, acc)
}

// run interprets prog, the subset of eBPF Compile emits, the way the
// kernel would for q, checking the few things the verifier would reject.
func run(prog []Insn, q request) (uint64, error) {
	ctx := [3]uint32{q.access<<16 | q.typ, q.major, q.minor}
	var reg [11]uint64
	var set [11]bool
	set[r1] = true
	isCtx := [11]bool{r1: true}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		if in.Code != classALU64|aluMOV|srcK && in.Code != classLDX|sizeW|modeMEM && !set[in.Dst] {
			return 0, fmt.Errorf("pc %d: r%d read before set", pc, in.Dst)
		}
		switch in.Code {
		case classLDX | sizeW | modeMEM:
			if !isCtx[in.Src] || in.Off < 0 || in.Off > 8 || in.Off%4 != 0 {
				return 0, fmt.Errorf("pc %d: bad context load", pc)
			}
			reg[in.Dst] = uint64(ctx[in.Off/4])
		case classALU | aluAND | srcK:
			reg[in.Dst] = uint64(uint32(reg[in.Dst]) & uint32(in.Imm))
		case classALU | aluRSH | srcK:
			reg[in.Dst] = uint64(uint32(reg[in.Dst]) >> uint32(in.Imm))
		case classALU | aluMOV | srcX:
			reg[in.Dst] = uint64(uint32(reg[in.Src]))
		case classALU64 | aluMOV | srcK:
			reg[in.Dst] = uint64(int64(in.Imm))
		case classJMP32 | jmpJNE | srcK, classJMP32 | jmpJEQ | srcK, classJMP32 | jmpJSET | srcK:
			if in.Off < 0 {
				return 0, fmt.Errorf("pc %d: backward jump", pc)
			}
			if jumpTaken(in, uint32(reg[in.Dst])) {
				pc += int(in.Off)
			}
			continue
		case classJMP | jmpEXIT:
			if !set[r0] {
				return 0, fmt.Errorf("pc %d: exit without r0", pc)
			}
			return reg[r0], nil
		default:
			return 0, fmt.Errorf("pc %d: unexpected opcode %#x", pc, in.Code)
		}
		set[in.Dst], isCtx[in.Dst] = true, false
	}
	return 0, fmt.Errorf("fell off the end of the program")
}

func jumpTaken(in Insn, v uint32) bool {
	imm := uint32(in.Imm)
	switch in.Code &^ classJMP32 {
	case jmpJNE:
		return v != imm
	case jmpJEQ:
		return v == imm
	default:
		return v&imm != 0
	}
}

// unreachable lists instructions no path reaches, which the verifier
// rejects.
func unreachable(prog []Insn) []int {
	seen := make([]bool, len(prog))
	var walk func(pc int)
	walk = func(pc int) {
		for ; pc < len(prog) && !seen[pc]; pc++ {
			seen[pc] = true
			if prog[pc].Code == classJMP|jmpEXIT {
				return
			}
			if prog[pc].Code&0x07 == classJMP32 {
				walk(pc + 1 + int(prog[pc].Off))
			}
		}
	}
	walk(0)
	var out []int
	for pc, ok := range seen {
		if !ok {
			out = append(out, pc)
		}
	}
	return out
}

func mustCompile(t *testing.T, rules []specs.LinuxDeviceCgroup) []Insn {
	t.Helper()
	prog, err := Compile(rules)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if bad := unreachable(prog); len(bad) > 0 {
		t.Fatalf("unreachable instructions %v in %d-instruction program", bad, len(prog))
	}
	return prog
}

func allowed(t *testing.T, prog []Insn, q request) bool {
	t.Helper()
	v, err := run(prog, q)
	if err != nil {
		t.Fatalf("%v: %v", q, err)
	}
	if v > 1 {
		t.Fatalf("%v: returned %d, want 0 or 1", q, v)
	}
	return v == 1
}

func TestCompileInstructionCounts(t *testing.T) {
	const prologueLen, verdictLen = 6, 2
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  int
	}{
		{"empty denies all", nil, prologueLen + verdictLen},
		{"deny all needs no default", []specs.LinuxDeviceCgroup{denyAll}, prologueLen + verdictLen},
		{"allow all", []specs.LinuxDeviceCgroup{allowRule("a", nil, nil, "rwm")}, prologueLen + verdictLen},
		{"rules before a catch-all are dropped", []specs.LinuxDeviceCgroup{
			allowRule("c", num(1), num(3), "rwm"), allowRule("b", nil, nil, "m"), denyAll,
		}, prologueLen + verdictLen},
		// type+major+minor tests, then default deny.
		{"one device", []specs.LinuxDeviceCgroup{allowRule("c", num(1), num(3), "rwm")}, prologueLen + 3 + verdictLen + verdictLen},
		// type + one JSET access test.
		{"partial allow", []specs.LinuxDeviceCgroup{allowRule("c", nil, nil, "m")}, prologueLen + 2 + verdictLen + verdictLen},
		// type + mov/and/jeq access test.
		{"partial deny", []specs.LinuxDeviceCgroup{denyRule("c", nil, nil, "w")}, prologueLen + 4 + verdictLen + verdictLen},
		// 9 c x:y rwm (3 tests each), pts (2), c m and b m (2 each), deny all.
		{"docker", dockerRules(), prologueLen + 9*(3+verdictLen) + (2 + verdictLen) + 2*(2+verdictLen) + verdictLen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := len(mustCompile(t, tc.rules)); got != tc.want {
				t.Errorf("got %d instructions, want %d", got, tc.want)
			}
		})
	}
}

func TestCompileRejectsBadRules(t *testing.T) {
	for _, tc := range []struct {
		rule specs.LinuxDeviceCgroup
		want string
	}{
		{allowRule("x", nil, nil, "rwm"), `invalid device type "x"`},
		{allowRule("u", nil, nil, "rwm"), `invalid device type "u"`},
		{allowRule("cb", nil, nil, "rwm"), `invalid device type "cb"`},
		{allowRule("c", nil, nil, "rwx"), `invalid device access "rwx"`},
		{allowRule("c", nil, nil, "R"), `invalid device access "R"`},
		{allowRule("c", num(1<<32), nil, "r"), "invalid major 4294967296"},
		{denyRule("b", num(8), num(1<<40), "r"), "invalid minor 1099511627776"},
	} {
		_, err := Compile([]specs.LinuxDeviceCgroup{denyAll, tc.rule})
		if err == nil {
			t.Errorf("%+v: no error", tc.rule)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "device rule 1: ") {
			t.Errorf("%+v: error %q, want %q for rule 1", tc.rule, err, tc.want)
		}
	}
}

func TestDockerRules(t *testing.T) {
	prog := mustCompile(t, dockerRules())
	for _, tc := range []struct {
		q    request
		want bool
	}{
		{request{devChar, accRead | accWrite, 1, 3}, true},    // /dev/null
		{request{devChar, accMknod, 1, 3}, true},              // mknod /dev/null
		{request{devChar, accRead, 136, 7}, true},             // /dev/pts/7
		{request{devChar, accRead | accWrite, 10, 200}, true}, // /dev/net/tun
		{request{devBlock, accMknod, 8, 0}, true},             // mknod sda
		{request{devBlock, accRead, 8, 0}, false},             // read sda
		{request{devBlock, accWrite, 254, 0}, false},          // write vda
		{request{devChar, accMknod, 1, 1}, true},              // mknod mem
		{request{devChar, accRead, 1, 1}, false},              // read mem
		{request{devChar, accRead, 1, 11}, false},             // /dev/kmsg
		{request{devChar, accRead | accMknod, 1, 11}, false},  // m alone is granted, not rm
		{request{devChar, accRead, 10, 201}, false},
		{request{devBlock, accRead, 1, 3}, false}, // char rule, block request
	} {
		if got := allowed(t, prog, tc.q); got != tc.want {
			t.Errorf("%v: allowed=%v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestLastMatchingRuleWins(t *testing.T) {
	null := request{devChar, accRead, 1, 3}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		q     request
		want  bool
	}{
		{"allow after deny", []specs.LinuxDeviceCgroup{denyRule("c", num(1), num(3), "rwm"), allowRule("c", num(1), num(3), "rwm")}, null, true},
		{"deny after allow", []specs.LinuxDeviceCgroup{allowRule("c", num(1), num(3), "rwm"), denyRule("c", num(1), num(3), "rwm")}, null, false},
		{"wildcard deny after allow", []specs.LinuxDeviceCgroup{allowRule("c", num(1), num(3), "rwm"), denyRule("c", nil, nil, "r")}, null, false},
		{"allow all then deny", []specs.LinuxDeviceCgroup{allowRule("a", nil, nil, "rwm"), denyRule("c", num(1), nil, "rwm")}, null, false},
		{"allow all then deny other", []specs.LinuxDeviceCgroup{allowRule("a", nil, nil, "rwm"), denyRule("c", num(1), num(5), "rwm")}, null, true},
		{"deny all with partial access still denies all", []specs.LinuxDeviceCgroup{allowRule("c", num(1), num(3), "rwm"), denyRule("a", nil, nil, "m")}, null, false},
		{"negative numbers are wildcards", []specs.LinuxDeviceCgroup{allowRule("c", num(-1), num(-1), "r")}, null, true},
		{"empty access means rwm", []specs.LinuxDeviceCgroup{allowRule("c", num(1), num(3), "")}, request{devChar, accRead | accWrite | accMknod, 1, 3}, true},
		{"any type with major", []specs.LinuxDeviceCgroup{allowRule("a", num(1), nil, "r")}, null, true},
		{"any type with major, other major", []specs.LinuxDeviceCgroup{allowRule("", num(1), nil, "r")}, request{devBlock, accRead, 8, 3}, false},
		{"major above 2^31", []specs.LinuxDeviceCgroup{allowRule("c", num(1<<32-1), nil, "r")}, request{devChar, accRead, 1<<32 - 1, 0}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := allowed(t, mustCompile(t, tc.rules), tc.q); got != tc.want {
				t.Errorf("%v: allowed=%v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestAccessBits(t *testing.T) {
	// Allow must cover every requested bit; deny needs to name just one.
	rules := []specs.LinuxDeviceCgroup{
		denyAll,
		allowRule("c", num(1), num(3), "rwm"),
		denyRule("c", num(1), num(3), "w"),
		allowRule("c", num(1), num(5), "r"),
	}
	prog := mustCompile(t, rules)
	for _, tc := range []struct {
		q    request
		want bool
	}{
		{request{devChar, accRead, 1, 3}, true},
		{request{devChar, accMknod, 1, 3}, true},
		{request{devChar, accWrite, 1, 3}, false},
		{request{devChar, accRead | accWrite, 1, 3}, false},
		{request{devChar, accRead, 1, 5}, true},
		{request{devChar, accWrite, 1, 5}, false},
		{request{devChar, accRead | accWrite, 1, 5}, false},
	} {
		if got := allowed(t, prog, tc.q); got != tc.want {
			t.Errorf("%v: allowed=%v, want %v", tc.q, got, tc.want)
		}
	}
}

// model states the semantics directly: the last rule matching the device
// decides, an allow only if it grants every requested bit, a deny if it
// names any; nothing matching denies.
func model(rules []specs.LinuxDeviceCgroup, q request) bool {
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		wildType := r.Type == "" || r.Type == "a"
		if !r.Allow && wildType && isWild(r.Major) && isWild(r.Minor) {
			return false
		}
		if !wildType && map[string]uint32{"b": devBlock, "c": devChar}[r.Type] != q.typ ||
			!numMatches(r.Major, q.major) || !numMatches(r.Minor, q.minor) {
			continue
		}
		acc := uint32(accAll)
		if r.Access != "" {
			acc = 0
			for _, c := range r.Access {
				acc |= map[rune]uint32{'r': accRead, 'w': accWrite, 'm': accMknod}[c]
			}
		}
		if r.Allow && q.access&^acc == 0 {
			return true
		}
		if !r.Allow && q.access&acc != 0 {
			return false
		}
	}
	return false
}

func isWild(n *int64) bool { return n == nil || *n < 0 }

func numMatches(n *int64, v uint32) bool {
	return isWild(n) || uint32(*n) == v
}

func TestCompileMatchesModel(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }
	pickNum := func() *int64 {
		return []*int64{nil, nil, num(-1), num(1), num(3), num(8)}[rnd.IntN(6)]
	}
	types := []string{"", "a", "b", "c", "c", "b"}
	accesses := []string{"", "r", "w", "m", "rw", "wr", "rm", "wm", "rwm", "mmr"}
	for iter := range 3000 {
		rules := make([]specs.LinuxDeviceCgroup, rnd.IntN(7))
		for i := range rules {
			rules[i] = specs.LinuxDeviceCgroup{
				Allow: rnd.IntN(2) == 0, Type: pick(types),
				Major: pickNum(), Minor: pickNum(), Access: pick(accesses),
			}
		}
		prog := mustCompile(t, rules)
		for _, typ := range []uint32{devBlock, devChar} {
			for access := uint32(1); access <= accAll; access++ {
				for _, major := range []uint32{1, 3, 8} {
					for _, minor := range []uint32{1, 3, 9} {
						q := request{typ, access, major, minor}
						if got, want := allowed(t, prog, q), model(rules, q); got != want {
							t.Fatalf("iteration %d, rules %s, %v: allowed=%v, model says %v", iter, describe(rules), q, got, want)
						}
					}
				}
			}
		}
	}
}

func describe(rules []specs.LinuxDeviceCgroup) string {
	var parts []string
	for _, r := range rules {
		n := func(p *int64) string {
			if p == nil {
				return "*"
			}
			return fmt.Sprint(*p)
		}
		verb := "deny"
		if r.Allow {
			verb = "allow"
		}
		parts = append(parts, fmt.Sprintf("%s %q %s:%s %q", verb, r.Type, n(r.Major), n(r.Minor), r.Access))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func TestEncode(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("byte layout below is little-endian")
	}
	got, err := encode([]Insn{loadWord(r4, r1, 4), jmp32Imm(jmpJNE, r2, devChar, 3), exit()})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x61, 0x14, 4, 0, 0, 0, 0, 0, // r4 = *(u32 *)(r1 + 4)
		0x56, 0x02, 3, 0, 2, 0, 0, 0, // if w2 != 2 goto +3
		0x95, 0x00, 0, 0, 0, 0, 0, 0, // exit
	}
	if string(got) != string(want) {
		t.Errorf("encode = % x\nwant     % x", got, want)
	}
	if _, err := encode([]Insn{{Dst: 11}}); err == nil {
		t.Error("register 11 accepted")
	}
}
