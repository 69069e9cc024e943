//go:build amd64

package seccomp

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkCompileDockerDefault is what berth run pays per container
// start: Docker's default profile, resolved for berth's default bounding
// set, compiled.
func BenchmarkCompileDockerDefault(b *testing.B) {
	p := DockerDefault(dockerCaps)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDockerDefaultAndCompile adds the profile's resolution, which
// berth run also does once per start.
func BenchmarkDockerDefaultAndCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(DockerDefault(dockerCaps)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFirstCompileCost logs what the first compile in a fresh process
// costs (berth run compiles once per process, so this is the number that
// counts, lazily built tables included) next to a second one. It only
// logs: timings are too noisy to assert.
func TestFirstCompileCost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts helper processes")
	}
	for range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=first-compile")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out)
		}
		t.Log(strings.TrimSpace(string(out)))
	}
}

// helperFirstCompile times the process's first and second compile of
// Docker's default profile, and the fastest of 20 more, with the page
// faults of the first.
func helperFirstCompile() error {
	var took [22]time.Duration
	var faults int64
	for i := range took {
		p := DockerDefault(dockerCaps)
		var before, after unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_SELF, &before)
		start := time.Now()
		if _, err := Compile(p); err != nil {
			return err
		}
		took[i] = time.Since(start)
		if i == 0 {
			_ = unix.Getrusage(unix.RUSAGE_SELF, &after)
			faults = after.Minflt - before.Minflt
		}
	}
	fmt.Printf("first compile %v (%d page faults), second %v, best of 20 more %v\n", took[0], faults, took[1], slices.Min(took[2:]))
	return nil
}
