package cpubusy

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRunnable(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		good bool
	}{
		{"0.50 0.60 0.70 3/345 12345\n", 3, true},
		{"12.19 4.26 3.02 57/1024 99\n", 57, true},
		{"0.00 0.00 0.00 1/1 1", 1, true},
		{"0.50 0.60 0.70 /345 12345\n", 0, false},
		{"0.50 0.60 0.70 3 12345\n", 0, false},
		{"0.50 0.60 0.70\n", 0, false},
		{"0.50 0.60 0.70 x3/345 1\n", 0, false},
		{"0.50 0.60 0.70 99999999999999999999/1 1\n", 0, false},
		{"", 0, false},
	} {
		n, ok := parseRunnable([]byte(c.in))
		if n != c.n || ok != c.good {
			t.Errorf("parseRunnable(%q) = %d, %v; want %d, %v", c.in, n, ok, c.n, c.good)
		}
	}
}

func TestBusy(t *testing.T) {
	for _, c := range []struct {
		running, cpus int
		want          bool
	}{
		{1, 2, false}, {4, 2, false}, {5, 2, true}, {50, 2, true}, {50, 64, false}, {129, 64, true},
	} {
		if got := busy(c.running, c.cpus); got != c.want {
			t.Errorf("busy(%d, %d) = %v", c.running, c.cpus, got)
		}
	}
}

// reportEnv makes the test binary print its GOMAXPROCS and exit.
const reportEnv = "BERTH_TEST_CPUBUSY_REPORT"

func TestMain(m *testing.M) {
	if os.Getenv(reportEnv) != "" {
		fmt.Println(runtime.GOMAXPROCS(0))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// procs starts the test binary as a process of its own and returns the
// GOMAXPROCS it ran with.
func procs(t *testing.T, env ...string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), reportEnv+"=1"), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	return n
}

// TestOnePWhenBusy: a process started while more than twice as many tasks
// as CPUs are runnable runs with one P, unless GOMAXPROCS is in its
// environment; one started when the CPUs are free takes one P per CPU.
func TestOnePWhenBusy(t *testing.T) {
	cpus := runtime.NumCPU()
	if cpus < 2 {
		t.Skip("one CPU: GOMAXPROCS is 1 anyway")
	}
	if cpus > 16 {
		t.Skip("too many CPUs to keep busy in a test")
	}
	var spinners []*exec.Cmd
	stop := func() {
		for _, c := range spinners {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		spinners = nil
	}
	defer stop()
	for range busyAt*cpus + 2 {
		c := exec.Command("/bin/sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		spinners = append(spinners, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if running, _ := runnable(); busy(running, cpus) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the spinners never showed as runnable")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := procs(t); n != 1 {
		t.Errorf("busy: GOMAXPROCS %d, want 1", n)
	}
	if n := procs(t, "GOMAXPROCS=2"); n != 2 {
		t.Errorf("busy, GOMAXPROCS=2 in the environment: GOMAXPROCS %d, want 2", n)
	}
	stop()
	// Other tasks (another test binary, another tenant) may keep the CPUs
	// busy for a while: one process of many that finds them free is
	// enough, and a machine that stays busy throughout tells nothing.
	deadline = time.Now().Add(10 * time.Second)
	for {
		if n := procs(t); n == cpus {
			return
		} else if n != 1 {
			t.Fatalf("GOMAXPROCS %d, want 1 or %d", n, cpus)
		}
		if time.Now().After(deadline) {
			t.Skip("the CPUs stayed busy for 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
