package initproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafePointer(p *uint32) unsafe.Pointer { return unsafe.Pointer(p) }

// Exit statuses for a program that cannot be started, as in Docker.
const (
	CodeCannotInvoke = 126
	CodeNotFound     = 127
)

// lookPath finds the program as the container would: a name without a
// slash is searched in the PATH of the process's own environment.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, checkExecutable(name, name)
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	var denied error
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		candidate := dir + "/" + name
		err := checkExecutable(name, candidate)
		if err == nil {
			return candidate, nil
		}
		var se *startError
		if denied == nil && errors.As(err, &se) && se.code == CodeCannotInvoke {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", &startError{CodeNotFound, fmt.Errorf("exec %q: executable file not found in $PATH", name)}
}

func checkExecutable(name, path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return execError(name, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return &startError{CodeCannotInvoke, fmt.Errorf("exec %q: is a directory", name)}
	}
	if err := unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS); err != nil {
		return execError(name, err)
	}
	return nil
}

// execError maps a failed exec to Docker's exit statuses: 127 when the
// program (or its interpreter) does not exist, 126 when it cannot run.
func execError(name string, err error) error {
	code := CodeCannotInvoke
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		code = CodeNotFound
	}
	return &startError{code, fmt.Errorf("exec %q: %w", name, err)}
}

// decodeFilter turns the wire form of a filter program back into
// instructions.
func decodeFilter(b []byte) []unix.SockFilter {
	if len(b) == 0 {
		return nil
	}
	prog := make([]unix.SockFilter, len(b)/8)
	for i := range prog {
		r := b[i*8:]
		prog[i] = unix.SockFilter{
			Code: binary.LittleEndian.Uint16(r[0:]),
			Jt:   r[2],
			Jf:   r[3],
			K:    binary.LittleEndian.Uint32(r[4:]),
		}
	}
	return prog
}

// EncodeFilter is the parent's half of decodeFilter.
func EncodeFilter(prog []unix.SockFilter) []byte {
	b := make([]byte, 8*len(prog))
	for i, in := range prog {
		r := b[i*8:]
		binary.LittleEndian.PutUint16(r[0:], in.Code)
		r[2], r[3] = in.Jt, in.Jf
		binary.LittleEndian.PutUint32(r[4:], in.K)
	}
	return b
}
