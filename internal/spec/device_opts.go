package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DeviceRequest is one --device HOST[:CONTAINER][:PERMS], parsed.
type DeviceRequest struct {
	Host, Container, Perms string
}

// IsCDIName reports whether a --device value names a CDI device
// (vendor.com/class=name) rather than a host path.
func IsCDIName(v string) bool {
	return !strings.HasPrefix(v, "/") && strings.Contains(v, "=") && strings.Contains(v, "/")
}

// ParseDevice reads --device as Docker does: HOST, HOST:CONTAINER,
// HOST:PERMS or HOST:CONTAINER:PERMS, PERMS a subset of rwm (default rwm).
func ParseDevice(v string) (DeviceRequest, error) {
	parts := strings.Split(v, ":")
	d := DeviceRequest{Host: parts[0], Perms: "rwm"}
	switch len(parts) {
	case 1:
	case 2:
		if validPerms(parts[1]) {
			d.Perms = parts[1]
		} else {
			d.Container = parts[1]
		}
	case 3:
		d.Container, d.Perms = parts[1], parts[2]
	default:
		return d, invalidOpt("invalid --device %q: use HOST[:CONTAINER][:PERMS]", v)
	}
	if d.Container == "" {
		d.Container = d.Host
	}
	if !filepath.IsAbs(d.Host) || !filepath.IsAbs(d.Container) {
		return d, invalidOpt("invalid --device %q: the paths are absolute, such as /dev/fuse", v)
	}
	if !validPerms(d.Perms) {
		return d, invalidOpt("invalid --device %q: the permissions are a subset of rwm", v)
	}
	if d.Container = filepath.Clean(d.Container); d.Container == "/" {
		return d, invalidOpt("invalid --device %q: give the node's path in the container", v)
	}
	return d, nil
}

func validPerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for _, c := range p {
		if !strings.ContainsRune("rwm", c) || strings.Count(p, string(c)) > 1 {
			return false
		}
	}
	return true
}

// ParseDeviceCgroupRule reads --device-cgroup-rule 'TYPE MAJOR:MINOR
// ACCESS' (TYPE a, b or c; * for any number; ACCESS of rwm).
func ParseDeviceCgroupRule(v string) (specs.LinuxDeviceCgroup, error) {
	bad := invalidOpt("invalid --device-cgroup-rule %q: use 'TYPE MAJOR:MINOR ACCESS', e.g. 'c 1:3 rwm' (TYPE a, b or c; * for any number)", v)
	f := strings.Fields(v)
	if len(f) != 3 || len(f[0]) != 1 || !strings.Contains("abc", f[0]) || !validPerms(f[2]) {
		return specs.LinuxDeviceCgroup{}, bad
	}
	majS, minS, ok := strings.Cut(f[1], ":")
	if !ok {
		return specs.LinuxDeviceCgroup{}, bad
	}
	rule := specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Access: f[2]}
	for _, n := range []struct {
		s   string
		out **int64
	}{{majS, &rule.Major}, {minS, &rule.Minor}} {
		if n.s == "*" {
			continue
		}
		v, err := strconv.ParseInt(n.s, 10, 64)
		if err != nil || v < 0 || v > 1<<32 {
			return specs.LinuxDeviceCgroup{}, bad
		}
		*n.out = &v
	}
	return rule, nil
}

// applyDeviceOptions adds --device's nodes (CDI names are the engine's)
// and their device-cgroup rules, then --device-cgroup-rule's rules.
func applyDeviceOptions(s *specs.Spec, x *ResourceOptions) error {
	for _, v := range x.Devices {
		if IsCDIName(v) {
			continue
		}
		d, err := ParseDevice(v)
		if err != nil {
			return err
		}
		nodes, err := HostDeviceNodes(d)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			s.Linux.Devices = mergeDevices(s.Linux.Devices, []specs.LinuxDevice{n})
			major, minor := n.Major, n.Minor
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
				specs.LinuxDeviceCgroup{Allow: true, Type: n.Type, Major: &major, Minor: &minor, Access: d.Perms})
		}
	}
	for _, v := range x.DeviceCgroupRules {
		rule, err := ParseDeviceCgroupRule(v)
		if err != nil {
			return err
		}
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rule)
	}
	return nil
}

// HostDeviceNodes are the nodes d names: the device at d.Host (symlinks
// followed, as Docker does), or every device under a directory, at the
// same place under d.Container.
func HostDeviceNodes(d DeviceRequest) ([]specs.LinuxDevice, error) {
	host, err := filepath.EvalSymlinks(d.Host)
	if err != nil {
		return nil, invalidOpt("invalid --device %s: %s does not exist on this host", d.Host, d.Host)
	}
	fi, err := os.Stat(host)
	if err != nil {
		return nil, invalidOpt("invalid --device %s: %v", d.Host, err)
	}
	if !fi.IsDir() {
		n, ok := deviceNode(host, d.Container)
		if !ok {
			return nil, invalidOpt("invalid --device %s: not a device node (give a character or block device, or a directory of them)", d.Host)
		}
		return []specs.LinuxDevice{n}, nil
	}
	var out []specs.LinuxDevice
	err = filepath.WalkDir(host, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || e.Type()&fs.ModeDevice == 0 {
			return nil
		}
		rel, _ := filepath.Rel(host, path)
		if n, ok := deviceNode(path, filepath.Join(d.Container, rel)); ok {
			out = append(out, n)
		}
		return nil
	})
	if err != nil || len(out) == 0 {
		return nil, invalidOpt("invalid --device %s: the directory holds no device nodes", d.Host)
	}
	return out, nil
}

// deviceNode describes the host's node at path, to be made at target.
func deviceNode(path, target string) (specs.LinuxDevice, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return specs.LinuxDevice{}, false
	}
	typ := ""
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, false
	}
	mode, uid, gid := os.FileMode(st.Mode&0o777), st.Uid, st.Gid
	return specs.LinuxDevice{
		Path: target, Type: typ, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, true
}
