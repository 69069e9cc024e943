//go:build amd64

package seccomp

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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
// Docker's default profile.
func helperFirstCompile() error {
	var took [2]time.Duration
	for i := range took {
		p := DockerDefault(dockerCaps)
		start := time.Now()
		if _, err := Compile(p); err != nil {
			return err
		}
		took[i] = time.Since(start)
	}
	fmt.Printf("first compile %v, second %v\n", took[0], took[1])
	return nil
}
