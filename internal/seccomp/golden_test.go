//go:build amd64

package seccomp

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden.txt from the current compiler")

const goldenFile = "testdata/golden.txt"

// everyCap is every capability name up to CAP_CHECKPOINT_RESTORE: a
// privileged-like bounding set that turns on all of Docker's includes.
var everyCap = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// goldenProfiles are the profiles whose compiled programs are pinned in
// testdata/golden.txt, so that a change to the compiler meant to be
// internal (speed, memory) is seen to leave every program byte-identical.
func goldenProfiles() map[string]*specs.LinuxSeccomp {
	ps := map[string]*specs.LinuxSeccomp{
		"docker-default-caps":   DockerDefault(dockerCaps),
		"docker-every-cap":      DockerDefault(everyCap),
		"docker-no-caps":        DockerDefault(nil),
		"docker-sys-admin-only": DockerDefault([]string{"sys_admin"}),
		"args": {
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
				{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7e020000, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
				{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: uintp(3), Args: []specs.LinuxSeccompArg{{Index: 1, Value: 1 << 40, Op: specs.OpGreaterThan}, {Index: 2, Value: 5, Op: specs.OpLessEqual}}},
				{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 16, Op: specs.OpNotEqual}, {Index: 0, Value: 40, Op: specs.OpLessThan}}},
				{Names: []string{"getpid", "getppid"}, Action: specs.ActAllow},
			},
		},
		"foreign-arches": {
			DefaultAction: specs.ActErrno,
			Architectures: runcArches,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid", "rt_sigaction", "waitpid"}, Action: specs.ActAllow}},
		},
		"default-allow": {
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(42)}},
		},
		"empty-kill": {DefaultAction: specs.ActKillProcess},
	}
	long := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for _, e := range x8664Syscalls {
		long.Syscalls = append(long.Syscalls, specs.LinuxSyscall{
			Names: []string{e.name}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: uint(e.nr % 6), Value: uint64(e.nr) << 20, Op: specs.OpEqualTo}},
		})
	}
	ps["long-jumps"] = long
	rng := rand.New(rand.NewSource(7))
	for i := range 40 {
		ps[fmt.Sprintf("random-%02d", i)] = randomProfile(rng)
	}
	return ps
}

// randomProfile is a profile of random rules on all three architectures'
// names, with arguments, as TestRandomProfiles makes them.
func randomProfile(rng *rand.Rand) *specs.LinuxSeccomp {
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActTrap, specs.ActLog}
	tables := [][]sysnum{x8664Syscalls, i386Syscalls, x32Syscalls}
	p := &specs.LinuxSeccomp{DefaultAction: actions[rng.Intn(len(actions))]}
	for _, a := range []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32} {
		if rng.Intn(2) == 0 {
			p.Architectures = append(p.Architectures, a)
		}
	}
	for n := rng.Intn(120); n > 0; n-- {
		sc := specs.LinuxSyscall{Action: actions[rng.Intn(len(actions))]}
		if sc.Action == specs.ActErrno && rng.Intn(2) == 0 {
			sc.ErrnoRet = uintp(uint(rng.Intn(100)))
		}
		for k := 1 + rng.Intn(3); k > 0; k-- {
			tab := tables[rng.Intn(len(tables))]
			sc.Names = append(sc.Names, tab[rng.Intn(len(tab))].name)
		}
		for k := rng.Intn(4); k > 0 && rng.Intn(2) == 0; k-- {
			sc.Args = append(sc.Args, specs.LinuxSeccompArg{
				Index: uint(rng.Intn(6)), Op: allOps[rng.Intn(len(allOps))],
				Value: edgeValues[rng.Intn(len(edgeValues))], ValueTwo: edgeValues[rng.Intn(len(edgeValues))],
			})
		}
		p.Syscalls = append(p.Syscalls, sc)
	}
	return p
}

// programHash is the SHA-256 of the program's kernel encoding.
func programHash(prog []unix.SockFilter) string {
	h := sha256.New()
	for _, in := range prog {
		var b [8]byte
		binary.LittleEndian.PutUint16(b[0:], in.Code)
		b[2], b[3] = in.Jt, in.Jf
		binary.LittleEndian.PutUint32(b[4:], in.K)
		h.Write(b[:])
	}
	return fmt.Sprintf("%d:%s", len(prog), hex.EncodeToString(h.Sum(nil)))
}

// TestGoldenPrograms: every pinned profile compiles to the very program
// recorded in testdata/golden.txt (go test -run Golden -update-golden
// rewrites it, for a change that means to alter programs).
func TestGoldenPrograms(t *testing.T) {
	got := map[string]string{}
	for name, p := range goldenProfiles() {
		got[name] = programHash(compile(t, p))
	}
	if *updateGolden {
		writeGolden(t, got)
		return
	}
	want := readGolden(t)
	if len(want) != len(got) {
		t.Errorf("%s has %d programs, the test makes %d", goldenFile, len(want), len(got))
	}
	for name, h := range got {
		if want[name] != h {
			t.Errorf("%s: program %s, want %s", name, h, want[name])
		}
	}
}

func readGolden(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, h, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("%s: bad line %q", goldenFile, sc.Text())
		}
		m[name] = h
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeGolden(t *testing.T, m map[string]string) {
	t.Helper()
	var b strings.Builder
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "%s %s\n", name, m[name])
	}
	if err := os.WriteFile(goldenFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
