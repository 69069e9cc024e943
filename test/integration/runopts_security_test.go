package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// statusField is a field of /proc/self/status as the container sees it.
func statusField(status, name string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// capMask reads a Cap* field of /proc/self/status.
func capMask(t *testing.T, status, field string) uint64 {
	t.Helper()
	m, err := strconv.ParseUint(statusField(status, field), 16, 64)
	if err != nil {
		t.Fatalf("%s in %q: %v", field, status, err)
	}
	return m
}

const (
	capChown          = 1 << 0
	capNetBindService = 1 << 10
	capNetAdmin       = 1 << 12
	capSysAdmin       = 1 << 21
)

// TestCapAddDrop: --cap-add and --cap-drop, names in any case with or
// without CAP_, drops before adds, ALL on both sides, as seen in the
// container's /proc/self/status and by what it may do.
func TestCapAddDrop(t *testing.T) {
	needRoot(t)
	status := func(flags ...string) string {
		return runIn(t, "cat /proc/self/status", append([]string{"--network", "none"}, flags...)...)
	}
	s := status("--cap-add", "net_admin", "--cap-drop", "CAP_CHOWN")
	if eff, bnd := capMask(t, s, "CapEff"), capMask(t, s, "CapBnd"); eff != bnd || eff&capNetAdmin == 0 || eff&capChown != 0 {
		t.Errorf("--cap-add net_admin --cap-drop CAP_CHOWN: CapEff %x CapBnd %x", eff, bnd)
	}
	s = status("--cap-drop", "ALL", "--cap-add", "Net_Bind_Service")
	if eff, bnd := capMask(t, s, "CapEff"), capMask(t, s, "CapBnd"); eff != capNetBindService || bnd != capNetBindService {
		t.Errorf("--cap-drop ALL --cap-add Net_Bind_Service: CapEff %x CapBnd %x", eff, bnd)
	}
	s = status("--cap-add", "ALL", "--cap-drop", "sys_admin")
	if eff := capMask(t, s, "CapEff"); eff&capSysAdmin != 0 || eff&capNetAdmin == 0 {
		t.Errorf("--cap-add ALL --cap-drop sys_admin: CapEff %x", eff)
	}
	// Dropped CAP_CHOWN: root cannot give a file away.
	out := runFails(t, 1, "touch /dev/shm/f && chown 1000 /dev/shm/f", "--cap-drop", "chown")
	if !strings.Contains(out, "Operation not permitted") {
		t.Errorf("chown without CAP_CHOWN: %q", out)
	}
	// Added CAP_NET_ADMIN: root may take loopback down.
	runIn(t, "ip link set lo down", "--network", "none", "--cap-add", "NET_ADMIN")
}

// TestSecurityOpt: no-new-privileges, seccomp (unconfined, and a profile
// in Docker's format kept after its file is gone), systempaths, mask and
// unmask, label where SELinux is off, as the container sees them.
func TestSecurityOpt(t *testing.T) {
	needRoot(t)
	s := runIn(t, "cat /proc/self/status", "--network", "none")
	if statusField(s, "NoNewPrivs") != "1" || statusField(s, "Seccomp") != "2" {
		t.Fatalf("defaults: NoNewPrivs %s Seccomp %s", statusField(s, "NoNewPrivs"), statusField(s, "Seccomp"))
	}
	s = runIn(t, "cat /proc/self/status", "--network", "none", "--security-opt", "no-new-privileges=false", "--security-opt", "seccomp=unconfined")
	if statusField(s, "NoNewPrivs") != "0" || statusField(s, "Seccomp") != "0" {
		t.Errorf("no-new-privileges=false seccomp=unconfined: NoNewPrivs %s Seccomp %s", statusField(s, "NoNewPrivs"), statusField(s, "Seccomp"))
	}

	profile := filepath.Join(t.TempDir(), "no-mkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW",
		"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`), 0o644)
	r := berth(t, "", "run", "-d", "--name", "secprof", "--network", "none", "--security-opt", "seccomp="+profile, "--rootfs", rootfsDir,
		"/bin/sh", "-c", "trap 'exit 0' TERM; mkdir /dev/shm/d; echo mkdir=$?; touch /dev/shm/f && echo touch=$?; sleep 1000 & wait")
	if r.code != 0 {
		t.Fatalf("run -d with a profile: %+v", r)
	}
	defer berth(t, "", "rm", "-f", "secprof")
	os.Remove(profile) // the container keeps the profile it was created with
	eventually(t, "logs of the profiled container", func() string {
		if out := berth(t, "", "logs", "secprof").stdout; !strings.Contains(out, "mkdir=1") || !strings.Contains(out, "touch=0") {
			return out
		}
		return ""
	})
	if r := berth(t, "", "restart", "-t", "1", "secprof"); r.code != 0 {
		t.Fatalf("restart after the profile's file is gone: %+v", r)
	}
	eventually(t, "logs after restart", func() string {
		if out := berth(t, "", "logs", "secprof").stdout; strings.Count(out, "mkdir=1") != 2 {
			return out
		}
		return ""
	})

	mounts := func(flags ...string) string {
		return runIn(t, "cut -d' ' -f5 /proc/self/mountinfo", append([]string{"--network", "none"}, flags...)...)
	}
	has := func(mi, path string) bool { return strings.Contains("\n"+mi, "\n"+path+"\n") }
	if mi := mounts(); !has(mi, "/proc/keys") || !has(mi, "/proc/sys") {
		t.Fatalf("default masks missing: %q", mi)
	}
	if mi := mounts("--security-opt", "systempaths=unconfined"); has(mi, "/proc/keys") || has(mi, "/proc/sys") {
		t.Errorf("systempaths=unconfined: still masked: %q", mi)
	}
	if mi := mounts("--security-opt", "unmask=/proc/keys", "--security-opt", "mask=/home/app:/etc/passwd"); has(mi, "/proc/keys") || !has(mi, "/proc/sys") || !has(mi, "/home/app") || !has(mi, "/etc/passwd") {
		t.Errorf("unmask=/proc/keys mask=/home/app:/etc/passwd: %q", mi)
	}
	if out := runIn(t, "cat /etc/passwd | wc -c", "--network", "none", "--security-opt", "mask=/etc/passwd"); strings.TrimSpace(out) != "0" {
		t.Errorf("masked /etc/passwd reads %q bytes", out)
	}
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
		// SELinux off: Docker ignores label options, and so does berth.
		runIn(t, "true", "--network", "none", "--security-opt", "label=type:container_t", "--security-opt", "label=disable")
	}
}

// TestGroupAdd: --group-add by gid and by a name in the image's
// /etc/group, beside the user's own groups.
func TestGroupAdd(t *testing.T) {
	needRoot(t)
	out := runIn(t, "id -G", "--network", "none", "-u", "app", "--group-add", "nogroup", "--group-add", "4242", "--group-add", "wheel")
	got := strings.Fields(out)
	for _, want := range []string{"1000", "10", "65534", "4242"} {
		if !slices.Contains(got, want) {
			t.Errorf("id -G %q lacks %s", out, want)
		}
	}
	if len(got) != 4 {
		t.Errorf("id -G %q: wheel twice?", out)
	}
}
