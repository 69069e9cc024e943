package devicefilter

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The program calls no helpers, GPL-only or otherwise, so the license
// string is informational.
const license = "Apache-2.0"

// verifierLogSize bounds the log asked for when a load fails; the
// programs are small, so the verifier's account of one is too.
const verifierLogSize = 256 << 10

// loadAttempts bounds the retries of an interrupted load.
const loadAttempts = 5

// progLoadAttr is the BPF_PROG_LOAD member of union bpf_attr, up to the
// fields this package sets. Pointers travel as __aligned_u64.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// progAttachAttr is the BPF_PROG_ATTACH member of union bpf_attr.
type progAttachAttr struct {
	targetFD     uint32
	attachBPFFD  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBPFFD uint32
}

// Attach compiles rules, loads the program and attaches it to the cgroup
// v2 directory open at cgroupDirFD. The program stays attached until the
// cgroup is removed. BPF_F_ALLOW_MULTI keeps programs already attached
// here or to ancestors in force: the kernel allows an access only if all of
// them do, so attaching again can narrow the rules but never widen them.
func Attach(cgroupDirFD int, rules []specs.LinuxDeviceCgroup) error {
	insns, err := Compile(rules)
	if err != nil {
		return fmt.Errorf("compile device filter: %w", err)
	}
	progFD, err := load(insns)
	if err != nil {
		return fmt.Errorf("load device filter: %w", err)
	}
	defer unix.Close(progFD)
	if err := attach(cgroupDirFD, progFD); err != nil {
		return fmt.Errorf("attach device filter: %w", err)
	}
	return nil
}

// load loads insns as a cgroup device program and returns its fd. It asks
// for the verifier's log only after a failure: with a log the kernel fails
// even valid programs whose log overflows the buffer.
func load(insns []Insn) (int, error) {
	code, err := encode(insns)
	if err != nil {
		return -1, err
	}
	fd, err := progLoad(code, nil)
	if err == nil {
		return fd, nil
	}
	log := make([]byte, verifierLogSize)
	if fd, retryErr := progLoad(code, log); retryErr == nil {
		return fd, nil
	}
	if msg := verifierSummary(log); msg != "" {
		return -1, fmt.Errorf("bpf(BPF_PROG_LOAD): %w: verifier: %s", err, msg)
	}
	return -1, fmt.Errorf("bpf(BPF_PROG_LOAD): %w", err)
}

func progLoad(code, log []byte) (int, error) {
	if len(code) == 0 {
		return -1, errors.New("empty program")
	}
	lic := append([]byte(license), 0)
	// The attribute carries these buffers' addresses as integers, which
	// neither the garbage collector nor the stack copier track; pinning
	// keeps them in place (and on the heap) until the call returns.
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&code[0])
	pin.Pin(&lic[0])
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(code) / 8),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&lic[0]))),
	}
	copy(attr.progName[:], progName)
	if len(log) > 0 {
		pin.Pin(&log[0])
		attr.logLevel = 1
		attr.logSize = uint32(len(log))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	}
	// The verifier gives up with EAGAIN when a signal, such as the Go
	// runtime's preemption signal, interrupts it.
	for range loadAttempts - 1 {
		fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
	return bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
}

func attach(cgroupDirFD, progFD int) error {
	attr := progAttachAttr{
		targetFD:    uint32(cgroupDirFD),
		attachBPFFD: uint32(progFD),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE): %w", err)
	}
	return nil
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// verifierSummary returns the first line of the verifier's log and, when
// it differs, the last line before the closing statistics, which is
// usually the one naming the fault.
func verifierSummary(log []byte) string {
	if i := bytes.IndexByte(log, 0); i >= 0 {
		log = log[:i]
	}
	var lines []string
	for _, l := range strings.Split(string(log), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	first, last := lines[0], lines[len(lines)-1]
	for i := len(lines) - 1; i > 0 && isVerifierStats(lines[i]); i-- {
		last = lines[i-1]
	}
	if last == first {
		return fmt.Sprintf("%q", first)
	}
	return fmt.Sprintf("%q ... %q", first, last)
}

func isVerifierStats(line string) bool {
	return strings.HasPrefix(line, "processed ") || strings.HasPrefix(line, "verification time")
}

// progName is the name programs of this package are loaded under, by
// which Detach finds them again.
const progName = "berth_devices"

// progQueryAttr is the BPF_PROG_QUERY member of union bpf_attr.
type progQueryAttr struct {
	targetFD    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

// getFDByIDAttr is the BPF_PROG_GET_FD_BY_ID member of union bpf_attr.
type getFDByIDAttr struct {
	progID    uint32
	nextID    uint32
	openFlags uint32
}

// infoByFDAttr is the BPF_OBJ_GET_INFO_BY_FD member of union bpf_attr.
type infoByFDAttr struct {
	bpfFD   uint32
	infoLen uint32
	info    uint64
}

// progInfoNameEnd is the end of the name in struct bpf_prog_info (16
// bytes at offset 64): the kernel fills only as much as is asked for.
const progInfoNameEnd = 80

// Detach removes from the cgroup v2 directory open at cgroupDirFD every
// device program this package attached there, and no other: a cgroup
// berth did not create is left as it was found, and a container that uses
// it after another gets its own rules rather than both.
func Detach(cgroupDirFD int) error {
	ids := make([]uint32, 64)
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&ids[0])
	q := progQueryAttr{targetFD: uint32(cgroupDirFD), attachType: unix.BPF_CGROUP_DEVICE,
		progIDs: uint64(uintptr(unsafe.Pointer(&ids[0]))), progCnt: uint32(len(ids))}
	if _, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&q), unsafe.Sizeof(q)); err != nil {
		return fmt.Errorf("bpf(BPF_PROG_QUERY, BPF_CGROUP_DEVICE): %w", err)
	}
	var errs []error
	for _, id := range ids[:min(int(q.progCnt), len(ids))] {
		if err := detachIfOurs(cgroupDirFD, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func detachIfOurs(cgroupDirFD int, id uint32) error {
	get := getFDByIDAttr{progID: id}
	fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&get), unsafe.Sizeof(get))
	if errors.Is(err, unix.ENOENT) {
		return nil // detached meanwhile
	}
	if err != nil {
		return fmt.Errorf("bpf(BPF_PROG_GET_FD_BY_ID %d): %w", id, err)
	}
	defer unix.Close(fd)
	info := make([]byte, progInfoNameEnd)
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&info[0])
	attr := infoByFDAttr{bpfFD: uint32(fd), infoLen: uint32(len(info)), info: uint64(uintptr(unsafe.Pointer(&info[0])))}
	if _, err := bpf(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("bpf(BPF_OBJ_GET_INFO_BY_FD %d): %w", id, err)
	}
	name, _, _ := bytes.Cut(info[progInfoNameEnd-unix.BPF_OBJ_NAME_LEN:], []byte{0})
	if string(name) != progName {
		return nil
	}
	detach := progAttachAttr{targetFD: uint32(cgroupDirFD), attachBPFFD: uint32(fd), attachType: unix.BPF_CGROUP_DEVICE}
	if _, err := bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&detach), unsafe.Sizeof(detach)); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("bpf(BPF_PROG_DETACH %d): %w", id, err)
	}
	return nil
}
