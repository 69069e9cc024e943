package integration

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestVersionCommand: berth version prints docker's Client block, and
// its object with --format json or a template.
func TestVersionCommand(t *testing.T) {
	needRoot(t)
	r := berth(t, "", "version")
	for _, want := range []string{"Client:\n", " Version:", " API version:       n/a", " Go version:        go1.", " Git commit:", " Built:", " OS/Arch:           linux/"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("version lacks %q: %+v", want, r)
		}
	}
	var v struct{ Client map[string]string }
	r = berth(t, "", "version", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Client["ApiVersion"] != "n/a" || v.Client["Os"] != "linux" {
		t.Errorf("version --format json: %+v (%v)", r, err)
	}
	if r := berth(t, "", "version", "--format", "{{.Client.Os}}/{{.Client.ApiVersion}}"); r.stdout != "linux/n/a\n" {
		t.Errorf("version template: %+v", r)
	}
	if r := berth(t, "", "version", "--format", "{{.Nothing}}"); r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("bad template: %+v, want one line and 125", r)
	}
}

// TestInfoCommand: berth info counts containers by state and shows the
// host's cgroup version, storage driver and security options, in docker's
// layout, as JSON and through templates over docker's field names.
func TestInfoCommand(t *testing.T) {
	needRoot(t)
	count := func(field string) int {
		t.Helper()
		r := berth(t, "", "info", "--format", "{{."+field+"}}")
		n, err := strconv.Atoi(strings.TrimSpace(r.stdout))
		if err != nil {
			t.Fatalf("info --format {{.%s}}: %+v", field, r)
		}
		return n
	}
	running, stopped, all := count("ContainersRunning"), count("ContainersStopped"), count("Containers")
	r := berth(t, "", "run", "-d", "--name", "infoup", "--rootfs", rootfsDir, "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done")
	defer berth(t, "", "rm", "-f", "infoup", "infomade")
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	if r := berth(t, "", "create", "--name", "infomade", "--rootfs", rootfsDir, "true"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	if n := count("ContainersRunning"); n != running+1 {
		t.Errorf("running: %d, want %d", n, running+1)
	}
	if n := count("ContainersStopped"); n != stopped+1 {
		t.Errorf("stopped (the created one): %d, want %d", n, stopped+1)
	}
	if n := count("Containers"); n != all+2 {
		t.Errorf("containers: %d, want %d", n, all+2)
	}
	wantV := "1"
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		wantV = "2"
	}
	var in map[string]any
	r = berth(t, "", "info", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("info --format json: %+v (%v)", r, err)
	}
	if in["CgroupVersion"] != wantV || in["CgroupDriver"] != "cgroupfs" || in["OSType"] != "linux" || in["Rootless"] != false || in["NCPU"].(float64) < 1 {
		t.Errorf("info json: %v", in)
	}
	if opts, _ := in["SecurityOptions"].([]any); len(opts) == 0 || opts[0] != "name=seccomp,profile=builtin" {
		t.Errorf("security options: %v", in["SecurityOptions"])
	}
	r = berth(t, "", "system", "info")
	for _, want := range []string{"Containers: ", " Running: ", " Paused: ", " Stopped: ", "Images: ", "Storage Driver: ",
		"Cgroup Driver: cgroupfs\n", "Cgroup Version: " + wantV + "\n", "Rootless: no\n", "Userns Default: ", "Security Options:\n seccomp\n  Profile: builtin\n",
		"Kernel Version: ", "Operating System: ", "CPUs: ", "Total Memory: ", "Berth Root Dir: "} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("system info lacks %q: %+v", want, r)
		}
	}
	// The host-wide default from BERTH_OPTS, shown as userns.
	cmd := berthCommand("info", "--format", "{{.UsernsDefault}} {{json .SecurityOptions}}")
	cmd.Env = append(cmd.Env, "BERTH_OPTS=--userns=auto")
	if r := collect(t, cmd, "berth info"); !strings.HasPrefix(r.stdout, "auto ") || !strings.Contains(r.stdout, `"name=userns"`) {
		t.Errorf("userns default: %+v", r)
	}
}
