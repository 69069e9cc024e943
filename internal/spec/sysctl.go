package spec

import (
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ipcSysctls are the kernel.* sysctls of the IPC namespace (runc's list).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// nsFiles names each namespace type's file under /proc/self/ns.
var nsFiles = map[specs.LinuxNamespaceType]string{
	specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
}

// validateSysctls allows, as runc's validator does, only sysctls that
// belong to a namespace the container does not share with the host:
// /proc/sys is only partly namespaced, and the rest (kernel.core_pattern,
// vm.*, most of fs.*) would change the host for every process on it.
func validateSysctls(s *specs.Spec) error {
	for key := range s.Linux.Sysctl {
		if err := checkSysctlKey(key); err != nil {
			return invalid("sysctl %q: %v", key, err)
		}
		ns, err := sysctlNamespace(s, key)
		if err != nil {
			return invalid("sysctl %q %v", key, err)
		}
		if err := ownNamespace(s, ns); err != nil {
			return invalid("sysctl %q belongs to the %s namespace, %v: give the container its own %s namespace or drop the sysctl", key, ns, err, ns)
		}
	}
	return nil
}

// checkSysctlKey refuses keys that are not dot-separated names, so that
// the key maps to exactly one file under /proc/sys when its dots become
// slashes: no slash, no empty component (which ".." would become).
func checkSysctlKey(key string) error {
	switch {
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("the name contains a NUL byte")
	case strings.ContainsRune(key, '/'):
		return fmt.Errorf("write sysctl names with dots, e.g. net.ipv4.ip_forward, without slashes")
	case strings.ContainsAny(key, " \t\n\r\v\f"):
		return fmt.Errorf("the name contains white space")
	}
	for _, part := range strings.Split(key, ".") {
		if part == "" {
			return fmt.Errorf("the name has an empty component: write it as dot-separated names, e.g. net.ipv4.ip_forward")
		}
	}
	return nil
}

// sysctlNamespace is the namespace a sysctl belongs to, or an error for
// one that belongs to none (or conflicts with a config field).
func sysctlNamespace(s *specs.Spec, key string) (specs.LinuxNamespaceType, error) {
	switch {
	case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		return specs.IPCNamespace, nil
	case strings.HasPrefix(key, "net."):
		return specs.NetworkNamespace, nil
	case key == "kernel.hostname" && s.Hostname != "":
		return "", fmt.Errorf("conflicts with the config's \"hostname\" field: set the name there only")
	case key == "kernel.domainname" && s.Domainname != "":
		return "", fmt.Errorf("conflicts with the config's \"domainname\" field: set the name there only")
	case key == "kernel.hostname" || key == "kernel.domainname":
		return specs.UTSNamespace, nil
	case strings.HasPrefix(key, "user."):
		return specs.UserNamespace, nil
	}
	return "", fmt.Errorf("is not namespaced: setting it would change the host; only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname, kernel.domainname and user.* may be set")
}

// ownNamespace fails when the container would share namespace type t with
// the host: not listed, or joined by a path that is the runtime's own
// namespace ("host" is the runtime's, as in runc).
func ownNamespace(s *specs.Spec, t specs.LinuxNamespaceType) error {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			continue
		}
		if ns.Path == "" {
			return nil
		}
		same, err := sameFile(ns.Path, "/proc/self/ns/"+nsFiles[t])
		if err != nil {
			return fmt.Errorf("and its path cannot be checked (%v)", err)
		}
		if same {
			return fmt.Errorf("but %s is the host's %s namespace (the runtime's own)", ns.Path, t)
		}
		return nil
	}
	return fmt.Errorf("which the container shares with the host")
}

func sameFile(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, &os.PathError{Op: "stat", Path: a, Err: err}
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, &os.PathError{Op: "stat", Path: b, Err: err}
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}
