package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// pidsScript fills a container's pids limit of 8 with its own tasks: sh
// and six background sleeps are 7, cat makes 8 (and prints the count), a
// seventh sleep is the 8th task again, and an eighth sleep must fail.
// Nothing the runtime left in the cgroup may count.
func pidsScript(pidsCurrent string) string {
	return "i=0; while [ $i -lt 6 ]; do sleep 5 & i=$((i+1)); done; cat " + pidsCurrent +
		"; sleep 5 & echo seventh; sleep 5 & echo eighth"
}

func checkPidsScript(t *testing.T, how string, stdout, stderr string) {
	t.Helper()
	if stdout != "8\nseventh\n" || !strings.Contains(stderr, "can't fork") {
		t.Errorf("%s: a container with pids.max 8 did not run exactly 8 tasks of its own: stdout %q, stderr %q (want \"8\\nseventh\\n\" and a failed fork)", how, stdout, stderr)
	}
}

// TestCgroupPidsLimitIsTheContainers: a container whose pids limit is 8
// runs 8 tasks of its own, as with runc (podman's `--pids-limit 8`): the
// init stage's threads and the runtime's helpers are not charged to it.
// Through berth run, berth-oci run and berth-oci create + start (the
// init stage waits in the cgroup between the two), with and without a
// cgroup namespace.
func TestCgroupPidsLimitIsTheContainers(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	current := limitFile(t, "pids", "pids.current", "pids.current")

	r := berth(t, "", "run", "--rm", "--rootfs", rootfsDir, "--pids-limit", "8", "/bin/sh", "-c", pidsScript(current))
	checkPidsScript(t, "berth run", r.stdout, r.stderr)

	for _, cgroupns := range []bool{true, false} {
		for _, how := range []string{"run", "create"} {
			id := fmt.Sprintf("pids-%s-%v", how, cgroupns)
			file := current
			if !cgroupns && cgroupVersion(t) == "v2" {
				// runc's view: cgroup2 mounted in the host's cgroup
				// namespace shows the whole hierarchy.
				file = "/sys/fs/cgroup/berth/" + id + "/pids.current"
			}
			bundle := ociBundle(t, []string{"sh", "-c", pidsScript(file)}, func(s *specs.Spec) {
				limit := int64(8)
				s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
				s.Linux.CgroupsPath = "/berth/" + id
				if !cgroupns {
					withoutNamespace(s, specs.CgroupNamespace)
				}
			})
			out := filepath.Join(t.TempDir(), "out")
			// The container's stdio are files, as conmon's are.
			script := `"$0" --root "$1" run --bundle "$2" "$3" >"$4" 2>"$4.err"`
			if how == "create" {
				script = `"$0" --root "$1" create --bundle "$2" "$3" >"$4" 2>"$4.err" && "$0" --root "$1" start "$3"`
			}
			b, err := exec.Command("sh", "-c", script, ociBin, ociRoot, bundle, id, out).CombinedOutput()
			if how == "create" {
				if err != nil {
					t.Fatalf("create + start: %v %s", err, b)
				}
				waitStatus(t, id, specs.StateStopped)
			}
			stdout, _ := os.ReadFile(out)
			stderr, _ := os.ReadFile(out + ".err")
			checkPidsScript(t, fmt.Sprintf("berth-oci %s, cgroupns %v", how, cgroupns), string(stdout), string(stderr))
			oci(t, "delete", "--force", id)
		}
	}
	checkNoLeaks(t, before)
}

// TestCgroupPidsLimitOne: a container whose pids limit is 1 runs its one
// process, as with runc. The init stage is a Go program with several
// threads: where it is in the container's cgroup before its exec (cgroup
// v2, born there; a user namespace, moved there whole), those threads
// must not need room under the container's limit.
func TestCgroupPidsLimitOne(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	for _, userns := range []bool{false, true} {
		bundle := ociBundle(t, []string{"echo", "ok"}, func(s *specs.Spec) {
			limit := int64(1)
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
			if userns {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			}
		})
		os.Chmod(filepath.Dir(bundle), 0o755)
		for _, how := range []string{"run", "create"} {
			id := fmt.Sprintf("pids1-%s-%v", how, userns)
			out := filepath.Join(t.TempDir(), "out")
			script := `"$0" --root "$1" run --bundle "$2" "$3" >"$4" 2>&1`
			if how == "create" {
				script = `"$0" --root "$1" create --bundle "$2" "$3" >"$4" 2>&1 && "$0" --root "$1" start "$3"`
			}
			b, err := exec.Command("sh", "-c", script, ociBin, ociRoot, bundle, id, out).CombinedOutput()
			if err == nil && how == "create" {
				waitStatus(t, id, specs.StateStopped)
			}
			got, _ := os.ReadFile(out)
			if err != nil || string(got) != "ok\n" {
				t.Errorf("%s, user namespace %v, pids limit 1: %v %s, container printed %q", how, userns, err, b, got)
			}
			oci(t, "delete", "--force", id)
		}
	}
	checkNoLeaks(t, before)
}
