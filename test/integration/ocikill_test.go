package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestOCIKillStopped: containerd's runc shim runs `kill --all ID SIGKILL`
// after every container exit, and a plain kill on StopContainer; both
// reach a stopped container. As with runc, kill --all succeeds and still
// kills what is left in the container's cgroup (here an orphan of an init
// that had no PID namespace of its own), and a plain kill fails with
// runc's words "container not running", which the shim reads, from the
// --log file, as "already finished".
func TestOCIKillStopped(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	bundle := ociBundle(t, []string{"sh", "-c", "sleep 1000 & echo $!"}, func(s *specs.Spec) {
		var keep []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.PIDNamespace {
				keep = append(keep, ns)
			}
		}
		s.Linux.Namespaces = keep
	})
	out := ociCreate(t, "killstopped", bundle)
	if r := oci(t, "start", "killstopped"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	line, _ := out.ReadString('\n')
	orphan, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("container printed %q", line)
	}
	t.Cleanup(func() { unix.Kill(orphan, unix.SIGKILL) })
	waitStatus(t, "killstopped", specs.StateStopped)
	if !isAlive(orphan) {
		t.Fatalf("the orphan %d is already gone", orphan)
	}

	logFile := filepath.Join(t.TempDir(), "log.json")
	r := oci(t, "--log", logFile, "--log-format", "json", "kill", "killstopped", "KILL")
	logged, _ := os.ReadFile(logFile)
	if r.code != 1 || !strings.Contains(r.stderr, "container not running") || !strings.Contains(string(logged), "container not running") {
		t.Errorf("kill of a stopped container: %+v, log %q; want status 1 and \"container not running\"", r, logged)
	}
	if r := oci(t, "kill", "--all", "killstopped", "0"); r.code != 0 {
		t.Errorf("kill --all with signal 0 of a stopped container: %+v", r)
	}
	if !isAlive(orphan) {
		t.Fatalf("signal 0 killed the orphan %d", orphan)
	}
	if r := oci(t, "kill", "--all", "killstopped", "KILL"); r.code != 0 {
		t.Fatalf("kill --all of a stopped container: %+v", r)
	}
	for i := 0; isAlive(orphan); i++ {
		if i == 1000 {
			t.Fatalf("the orphan %d survived kill --all", orphan)
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 5e6}, nil)
	}
	if r := oci(t, "kill", "--all", "killstopped", "KILL"); r.code != 0 {
		t.Errorf("a second kill --all of a stopped container: %+v", r)
	}
	if r := oci(t, "delete", "killstopped"); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	if r := oci(t, "kill", "--all", "killstopped", "KILL"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("kill of a deleted container: %+v; want status 1 and \"does not exist\"", r)
	}
	checkNoLeaks(t, before)
}
