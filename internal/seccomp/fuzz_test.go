//go:build amd64

package seccomp

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzCompile feeds seccomp profiles, as the JSON of an OCI config's
// linux.seccomp, through the compiler. Compile must never panic; a
// profile it accepts must give a program that the kernel's checks accept
// and that runs to the verdict reference gives, for a call of any
// architecture; on i386 and x32 that verdict must not depend on the
// upper halves of the arguments. The seeds run as unit tests in a plain
// go test; go test -fuzz FuzzCompile explores from them.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.profile, s.sel, s.nr, s.args[0], s.args[1], s.args[2], s.args[3], s.args[4], s.args[5])
	}
	f.Fuzz(func(t *testing.T, profile []byte, sel uint8, nr uint32, a0, a1, a2, a3, a4, a5 uint64) {
		var p specs.LinuxSeccomp
		if json.Unmarshal(profile, &p) != nil {
			return
		}
		prog, err := Compile(&p)
		if err != nil {
			return
		}
		if err := verify(prog); err != nil {
			t.Fatalf("invalid program: %v", err)
		}
		d := fuzzCall(sel, nr, [6]uint64{a0, a1, a2, a3, a4, a5})
		got, _, err := run(prog, d)
		if err != nil {
			t.Fatalf("call %+v: %v", d, err)
		}
		if want := reference(&p, d); got != want {
			t.Fatalf("call %+v: got %#x, want %#x", d, got, want)
		}
		if d.arch == i386 || d.arch == x86_64 && d.nr&x32Bit != 0 {
			flipped := d
			for i := range flipped.args {
				flipped.args[i] ^= 0xffffffff_00000000
			}
			if again, _, err := run(prog, flipped); err != nil || again != got {
				t.Fatalf("call %+v: got %#x, with the upper halves flipped %#x (%v)", d, got, again, err)
			}
		}
	})
}

// fuzzCall makes the seccomp_data of a call: sel picks the architecture
// (x86_64, i386, x32 or another) and whether nr is kept whole or folded
// into the range where syscalls are.
func fuzzCall(sel uint8, nr uint32, args [6]uint64) seccompData {
	if sel&4 == 0 {
		nr %= 512
	}
	d := seccompData{arch: x86_64, nr: nr, args: args}
	switch sel & 3 {
	case 1:
		d.arch = i386
	case 2:
		d.nr |= x32Bit
	case 3:
		d.arch = 0xc00000b7 // AUDIT_ARCH_AARCH64
	}
	return d
}

type fuzzSeed struct {
	profile []byte
	sel     uint8
	nr      uint32
	args    [6]uint64
}

// fuzzSeeds are the review's cases and a few profiles that reach every
// part of the compiler.
func fuzzSeeds(f *testing.F) []fuzzSeed {
	docker, err := json.Marshal(DockerDefault(dockerCaps))
	if err != nil {
		f.Fatal(err)
	}
	return []fuzzSeed{
		// The review's case: a deny rule and an allow-if-not-equal rule
		// for socket's family, passed on i386 (INT $0x80 from 64-bit
		// code) and x32 with the upper half of the family register set.
		{[]byte(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[` +
			`{"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":42,"args":[{"index":0,"value":40,"op":"SCMP_CMP_EQ"}]},` +
			`{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":40,"op":"SCMP_CMP_NE"}]}]}`),
			1, nrI386Socket, [6]uint64{1<<32 | 40, 1}},
		{[]byte(`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[` +
			`{"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":42,"args":[{"index":0,"value":40,"op":"SCMP_CMP_EQ"}]}]}`),
			2, 41, [6]uint64{0xffffffff_00000028, 1}},
		// The integration test's profile, on i386 nice(2).
		{[]byte(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"syscalls":[` +
			`{"names":["nice"],"action":"SCMP_ACT_ERRNO","errnoRet":42,"args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},` +
			`{"names":["nice"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_NE"}]}]}`),
			1, 34, [6]uint64{1 << 32}},
		// Every operator, values with both halves, on every architecture.
		{[]byte(`{"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[` +
			`{"names":["mkdirat","read"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":4294967301,"op":"SCMP_CMP_LT"},{"index":5,"value":7,"op":"SCMP_CMP_GE"}]},` +
			`{"names":["mkdirat"],"action":"SCMP_ACT_TRAP","args":[{"index":2,"value":18446744069414584320,"valueTwo":4294967296,"op":"SCMP_CMP_MASKED_EQ"}]},` +
			`{"names":["mkdirat"],"action":"SCMP_ACT_LOG","args":[{"index":2,"value":5,"op":"SCMP_CMP_LE"},{"index":3,"value":5,"op":"SCMP_CMP_GT"}]},` +
			`{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":38},{"names":["no_such_call"],"action":"SCMP_ACT_ALLOW"}]}`),
			5, nrI386Mkdirat, [6]uint64{0, 5, 1 << 32, 6, 0, 0xffffffff_00000007}},
		{docker, 0, 56, [6]uint64{0x7e020000}},
		{docker, 1, 136, [6]uint64{0xffffffff_ffffffff}},
		{docker, 2, 0xffffffff, [6]uint64{}},
		{docker, 7, 0xdeadbeef, [6]uint64{}},
		// Rejected profiles.
		{[]byte(`{"defaultAction":"SCMP_ACT_EXPLODE"}`), 0, 0, [6]uint64{}},
		{[]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"op":"SCMP_CMP_EQ"}]}]}`), 0, 0, [6]uint64{}},
		{[]byte(`{}`), 0, 0, [6]uint64{}},
		{[]byte(`null`), 0, 0, [6]uint64{}},
	}
}
