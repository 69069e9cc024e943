package integration

import (
	"encoding/json"
	"fmt"
	"github.com/berth-runtime/berth/internal/checkpoint"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/caps"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

// TestOCIFeaturesExercised runs, once each, what berth-oci features
// advertises: engines pick options from that report, so each item must
// work. An advertised item this test cannot exercise fails it: add one.
func TestOCIFeaturesExercised(t *testing.T) {
	needRoot(t)
	r := oci(t, "features")
	var f features.Features
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil || f.Linux == nil {
		t.Fatalf("features: %v %q", err, r.stdout)
	}
	if f.Linux.Seccomp == nil || f.Linux.Seccomp.Enabled == nil || !*f.Linux.Seccomp.Enabled || len(f.Linux.Seccomp.Actions) == 0 {
		t.Errorf("features does not report seccomp, which berth-oci applies: %+v", f.Linux.Seccomp)
	}
	t.Run("mountOptions", func(t *testing.T) { exerciseMountOptions(t, f.MountOptions) })
	t.Run("namespaces", func(t *testing.T) { exerciseNamespaces(t, f.Linux.Namespaces) })
	if sc := f.Linux.Seccomp; sc != nil {
		t.Run("seccomp", func(t *testing.T) { exerciseSeccomp(t, sc) })
	}
	t.Run("hooks", func(t *testing.T) { exerciseHooks(t, f.Hooks) })
	t.Run("capabilities", func(t *testing.T) { exerciseCapabilities(t, f.Linux.Capabilities) })
	t.Run("cgroup", func(t *testing.T) {
		cg := f.Linux.Cgroup
		host := cgroupVersion(t)
		if cg == nil || host == "v1" && (cg.V1 == nil || !*cg.V1) || host == "v2" && (cg.V2 == nil || !*cg.V2) {
			t.Errorf("the host's cgroup %s is not advertised: %+v", host, cg)
		}
		// TestOCIUpdateAndEvents and the cgroup tests run containers
		// with limits on this host's version.
		if cg != nil && cg.SystemdUser != nil && *cg.SystemdUser {
			t.Errorf("a systemd user cgroup driver is advertised: add its exercise here")
		}
		// Advertised only where systemd is PID 1 on v2 (make test-systemd).
		if cg != nil && cg.Systemd != nil && *cg.Systemd {
			t.Run("systemd", TestSystemdCgroupDriverRunAndBadPath)
		}
	})
	// Idmapped mounts are exercised as the mount options idmap and ridmap.
	if ext := f.Linux.MountExtensions; ext != nil && ext.IDMap != nil && ext.IDMap.Enabled != nil && *ext.IDMap.Enabled &&
		!slices.Contains(f.MountOptions, "idmap") {
		t.Errorf("idmapped mounts are advertised but the idmap option is not")
	}
	if f.Annotations["org.opencontainers.runc.checkpoint.enabled"] == "true" {
		t.Run("checkpoint", exerciseCheckpoint)
	}
	for k, v := range f.Annotations {
		if strings.Contains(k, "checkpoint") && v == "true" && k != "org.opencontainers.runc.checkpoint.enabled" {
			t.Errorf("checkpoint is advertised (%s): add its exercise here", k)
		}
	}
}

// ociRunOut runs a container to its end and returns its output.
func ociRunOut(t *testing.T, id string, args []string, edit func(*specs.Spec)) result {
	t.Helper()
	bundle := ociBundle(t, args, edit)
	return oci(t, "run", "--bundle", bundle, id)
}

// exerciseMountOptions mounts one tmpfs (a bind mount for bind and
// propagation options) per option, all in one container, and then one
// container per option if that fails, to name the option.
func exerciseMountOptions(t *testing.T, options []string) {
	src := t.TempDir()
	if kernelBefore(6, 3) {
		// /tmp is a tmpfs in the v2 VM; TestOCIMountIdmap says why.
		t.Log("idmap and ridmap not exercised: idmapped tmpfs mounts need Linux 6.3")
		options = slices.DeleteFunc(slices.Clone(options), func(o string) bool { return o == "idmap" || o == "ridmap" })
	}
	mountFor := func(i int, o string) specs.Mount {
		dst := "/m" + strconv.Itoa(i)
		switch o {
		case "bind", "rbind", "remount", "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable":
			opts := []string{"rbind", o}
			if o == "bind" || o == "rbind" {
				opts = []string{o}
			}
			return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
		case "copy-symlink":
			return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", o}}
		case "idmap", "ridmap":
			// The mount's own mappings (runc 1.2's form): the container
			// has no user namespace.
			idm := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", o},
				UIDMappings: idm, GIDMappings: idm}
		}
		return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{o}}
	}
	run := func(opts []string) result {
		return ociRunOut(t, "mountopts", []string{"sh", "-c", `grep -c ' /m[0-9]* ' /proc/self/mountinfo`}, func(s *specs.Spec) {
			for i, o := range opts {
				s.Mounts = append(s.Mounts, mountFor(i, o))
			}
		})
	}
	if r := run(options); r.code == 0 && strings.TrimSpace(r.stdout) == strconv.Itoa(len(options)) {
		return
	}
	for _, o := range options {
		if r := run([]string{o}); r.code != 0 || strings.TrimSpace(r.stdout) != "1" {
			t.Errorf("advertised mount option %q: %+v", o, r)
		}
	}
}

// procNamespace is a namespace type's name under /proc/PID/ns.
var procNamespace = map[string]string{
	"cgroup": "cgroup", "ipc": "ipc", "mount": "mnt", "network": "net", "pid": "pid", "user": "user", "uts": "uts", "time": "time",
}

func exerciseNamespaces(t *testing.T, types []string) {
	var names []string
	for _, n := range types {
		p, ok := procNamespace[n]
		if !ok {
			t.Errorf("advertised namespace %q: add its exercise here", n)
			continue
		}
		names = append(names, p)
	}
	script := "for n in " + strings.Join(names, " ") + "; do echo $n $(readlink /proc/self/ns/$n); done"
	r := ociRunOut(t, "allns", []string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Linux.Namespaces = nil
		for _, n := range types {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(n)})
		}
		for _, n := range types {
			if n != "user" {
				continue
			}
			// Identity-mapped ids: root can reach the test's private bundle,
			// and devpts's gid=5 is mapped.
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
			if cgroupVersion(t) == "v1" {
				// A user namespace cannot mount cgroupfs v1; berth does not
				// yet bind the host's hierarchies instead, as runc does.
				var mounts []specs.Mount
				for _, m := range s.Mounts {
					if m.Destination != "/sys/fs/cgroup" {
						mounts = append(mounts, m)
					}
				}
				s.Mounts = mounts
			}
		}
	})
	if r.code != 0 {
		t.Fatalf("a container with every advertised namespace: %+v", r)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		n, inside, _ := strings.Cut(line, " ")
		host, _ := os.Readlink("/proc/self/ns/" + n)
		if inside == "" || inside == host {
			t.Errorf("namespace %s: the container's is %q, the host's %q", n, inside, host)
		}
	}
}

func exerciseSeccomp(t *testing.T, sc *features.Seccomp) {
	// Every profile acts on chdir(2), which a child shell's cd calls (the
	// outer shell does not): ERRNO makes cd fail (status 2), KILL kills
	// the child.
	const script = `sh -c "cd /tmp" 2>/dev/null; echo rc=$?`
	profile := func(a specs.LinuxSeccompAction, edit func(*specs.LinuxSeccomp)) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls:      []specs.LinuxSyscall{{Names: []string{"chdir"}, Action: a}},
			}
			if edit != nil {
				edit(s.Linux.Seccomp)
			}
		}
	}
	sigsys := "rc=" + strconv.Itoa(128+int(unix.SIGSYS))
	for _, a := range sc.Actions {
		var want string
		var edit func(*specs.LinuxSeccomp)
		switch specs.LinuxSeccompAction(a) {
		case specs.ActAllow, specs.ActLog:
			want = "rc=0"
		case specs.ActErrno, specs.ActTrace: // TRACE without a tracer: ENOSYS
			want = "rc=2"
		case specs.ActKill, specs.ActKillThread, specs.ActKillProcess, specs.ActTrap:
			want = sigsys
		case specs.ActNotify:
			// The agent closes the notification descriptor it receives:
			// chdir then fails.
			sock, fdc := consoleSocket(t)
			go func() {
				if fd := <-fdc; fd != nil {
					fd.Close()
				}
			}()
			want, edit = "rc=2", func(p *specs.LinuxSeccomp) { p.ListenerPath = sock }
		default:
			t.Errorf("advertised seccomp action %s: add its exercise here", a)
			continue
		}
		r := ociRunOut(t, "scact", []string{"sh", "-c", script}, profile(specs.LinuxSeccompAction(a), edit))
		if strings.TrimSpace(r.stdout) != want {
			t.Errorf("seccomp action %s: %+v, want %s", a, r, want)
		}
	}
	for _, op := range sc.Operators {
		// chdir's argument is a pointer: never 0, never 2^63 or above.
		arg, want := specs.LinuxSeccompArg{Index: 0, Op: specs.LinuxSeccompOperator(op)}, "rc=2"
		switch arg.Op {
		case specs.OpNotEqual, specs.OpGreaterThan:
			arg.Value = 0
		case specs.OpGreaterEqual:
			arg.Value = 1
		case specs.OpLessThan, specs.OpLessEqual:
			arg.Value = 1 << 63
		case specs.OpMaskedEqual: // arg & 0 == 0
			arg.Value, arg.ValueTwo = 0, 0
		case specs.OpEqualTo:
			arg.Value, want = 0, "rc=0"
		default:
			t.Errorf("advertised seccomp operator %s: add its exercise here", op)
			continue
		}
		r := ociRunOut(t, "scop", []string{"sh", "-c", script}, profile(specs.ActErrno, func(p *specs.LinuxSeccomp) { p.Syscalls[0].Args = []specs.LinuxSeccompArg{arg} }))
		if strings.TrimSpace(r.stdout) != want {
			t.Errorf("seccomp operator %s: %+v, want %s", op, r, want)
		}
	}
	for _, a := range sc.Archs {
		r := ociRunOut(t, "scarch", []string{"sh", "-c", script}, profile(specs.ActErrno, func(p *specs.LinuxSeccomp) { p.Architectures = []specs.Arch{specs.Arch(a)} }))
		if strings.TrimSpace(r.stdout) != "rc=2" {
			t.Errorf("seccomp architecture %s: %+v", a, r)
		}
	}
	for _, fl := range sc.SupportedFlags {
		r := ociRunOut(t, "scflag", []string{"sh", "-c", script}, profile(specs.ActErrno, func(p *specs.LinuxSeccomp) { p.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)} }))
		if strings.TrimSpace(r.stdout) != "rc=2" {
			t.Errorf("seccomp flag %s: %+v", fl, r)
		}
	}
}

// exerciseHooks runs a container with every advertised hook: all write
// into a host file but startContainer, which runs inside the container's
// root and writes there, for the program to read. createContainer runs
// in the container's mount namespace before its root is entered (as
// runc runs it), where the host's file is still in reach.
func exerciseHooks(t *testing.T, names []string) {
	hostLog := filepath.Join(t.TempDir(), "hooks")
	host := func(name string) []specs.Hook {
		return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + " >> " + hostLog}}}
	}
	inside := func(name string) []specs.Hook {
		return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + " >> /hooks.log"}}}
	}
	var want []string
	r := ociRunOut(t, "allhooks", []string{"cat", "/hooks.log"}, func(s *specs.Spec) {
		h := &specs.Hooks{}
		for _, n := range names {
			switch n {
			case "prestart":
				h.Prestart = host(n) //nolint:staticcheck // engines still use it
			case "createRuntime":
				h.CreateRuntime = host(n)
			case "poststart":
				h.Poststart = host(n)
			case "poststop":
				h.Poststop = host(n)
			case "createContainer":
				h.CreateContainer = host(n)
			case "startContainer":
				h.StartContainer = inside(n)
			default:
				t.Errorf("advertised hook %s: add its exercise here", n)
				continue
			}
			want = append(want, n)
		}
		s.Hooks = h
	})
	b, _ := os.ReadFile(hostLog)
	got := string(b) + r.stdout
	for _, n := range want {
		if !strings.Contains(got, n+"\n") {
			t.Errorf("hook %s did not run: host log %q, container's %q (%+v)", n, b, r.stdout, r)
		}
	}
}

// exerciseCapabilities gives a container every advertised capability this
// host's bounding set holds, and reads them back.
func exerciseCapabilities(t *testing.T, advertised []string) {
	held := map[string]bool{}
	for _, c := range caps.Bounding() {
		held[c] = true
	}
	var list []string
	for _, c := range advertised {
		if held[c] {
			list = append(list, c)
		}
	}
	mask, err := caps.Mask(list)
	if err != nil {
		t.Fatalf("advertised capabilities: %v", err)
	}
	r := ociRunOut(t, "allcaps", []string{"sh", "-c", "grep CapEff /proc/self/status"}, func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: list, Effective: list, Permitted: list}
	})
	if want := fmt.Sprintf("CapEff:\t%016x", mask); strings.TrimSpace(r.stdout) != want {
		t.Errorf("capabilities: %+v, want %s", r, want)
	}
}

// exerciseCheckpoint checkpoints a running container with
// --leave-running. Where CRIU itself cannot checkpoint on this kernel
// (Debian 12's CRIU on 6.18, for runc too), the command must still reach
// CRIU and report CRIU's failure; the checkpoint tests cover the rest.
func exerciseCheckpoint(t *testing.T) {
	bundle := ociBundle(t, []string{"sh", "-c", counterScript}, sharedNet)
	ociRunDetached(t, "featcr", bundle)
	images := filepath.Join(t.TempDir(), "images")
	r := oci(t, "checkpoint", "--leave-running", "--image-path", images, "featcr")
	if checkpoint.Check("") == nil {
		if r.code != 0 {
			t.Errorf("checkpoint: %+v", r)
		}
	} else if r.code == 0 || !strings.Contains(r.stderr, "criu dump failed") {
		t.Errorf("checkpoint where CRIU cannot work did not reach CRIU: %+v", r)
	}
	if st := ociState(t, "featcr"); st.Status != specs.StateRunning {
		t.Errorf("after checkpoint --leave-running the container is %s", st.Status)
	}
}
