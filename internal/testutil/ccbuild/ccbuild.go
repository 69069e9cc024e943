// Package ccbuild builds berth's C programs (cmd/berth-nsenter,
// cmd/berth-stage and their check drivers) for Go tests, with gcc and the
// undefined-behaviour sanitizer, so that a bug in the C code (an overflow,
// an index out of bounds, an unaligned read) aborts the test instead of
// passing unseen. Not the address sanitizer: it makes each run 30 times
// slower, and the fuzzed inputs (argv, one message) are not memory it
// watches.
//
// Only tests import it.
package ccbuild

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Flags are gcc's flags for a sanitized build: the Makefile's warnings
// (as errors), debug information for the sanitizer's reports, and an
// abort on the first report.
var Flags = []string{"-O1", "-g", "-Wall", "-Wextra", "-Werror", "-std=gnu11", "-fsanitize=undefined", "-fno-sanitize-recover=all"}

// Program is a C program built on first use and shared by the tests of a
// package: declare it in a package variable and call Remove in TestMain.
type Program struct {
	name string
	srcs []string

	once sync.Once
	path string
	err  error
}

// Sanitized is the program name built from srcs: paths relative to the
// repository's root, which may be globs ("cmd/berth-nsenter/*.c").
func Sanitized(name string, srcs ...string) *Program {
	return &Program{name: name, srcs: srcs}
}

// Path builds the program the first time and returns its path. It skips
// t when gcc is not installed and fails it when the build fails.
func (p *Program) Path(t testing.TB) string {
	t.Helper()
	p.once.Do(func() { p.path, p.err = p.build() })
	if errors.Is(p.err, exec.ErrNotFound) {
		t.Skip("gcc is not installed")
	}
	if p.err != nil {
		t.Fatalf("build %s: %v", p.name, p.err)
	}
	return p.path
}

// Remove deletes the build, if any; for TestMain, after the tests.
func (p *Program) Remove() {
	if p.path != "" {
		os.RemoveAll(filepath.Dir(p.path))
	}
}

func (p *Program) build() (string, error) {
	srcs, err := expand(p.srcs)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "berth-cc-"+p.name)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, p.name)
	args := append(append(append([]string{}, Flags...), "-o", bin), srcs...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	return bin, nil
}

// expand resolves srcs against the repository's root, globs included.
func expand(srcs []string) ([]string, error) {
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "../../..")
	var out []string
	for _, s := range srcs {
		matches, err := filepath.Glob(filepath.Join(root, s))
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("no C source %s under %s", s, root)
		}
		out = append(out, matches...)
	}
	return out, nil
}
