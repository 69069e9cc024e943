package spec

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mount types of MountRequest.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// MountRequest is one -v, --mount or --tmpfs of `berth run`. The parsers
// return it with Type MountVolume for a named (or anonymous) volume; the
// caller resolves that to a bind of the volume's directory before
// FromRunOptions, which takes binds and tmpfs only.
type MountRequest struct {
	Type string
	// Source is the host path of a bind (absolute), a volume's name (""
	// for an anonymous volume) or nothing for a tmpfs.
	Source string
	// Destination is a clean absolute path inside the container.
	Destination string
	ReadOnly    bool
	// Propagation of a bind: private or rprivate ("" is rprivate).
	Propagation string
	// NonRecursive binds only the source, not the mounts beneath it.
	NonRecursive bool
	// CreateSource: a missing bind source is created as a directory, as
	// docker run -v does (--mount refuses it).
	CreateSource bool
	// NoCopy: a new volume does not get the image's files at Destination.
	NoCopy bool
	// Labels of a volume created for this mount.
	Labels map[string]string
	// Relabel is -v's z or Z: relabel the source for SELinux, shared or
	// private. Nothing to do where SELinux is disabled; refused where it
	// is enabled, since berth cannot relabel.
	Relabel string
	// Options of a tmpfs (size=, mode=, exec, ...), on top of the
	// defaults noexec, nosuid, nodev.
	Options []string
	// IDMap makes a bind an idmapped mount with the container's user
	// namespace mapping: -v's idmap option, and every volume of a
	// container with a user namespace.
	IDMap bool
	// Flag is the flag and value this came from, for messages.
	Flag string
}

func mountErr(flag, value, format string, args ...any) error {
	return fmt.Errorf("invalid %s %q: %s", flag, value, fmt.Sprintf(format, args...))
}

// ParseVolumeFlag parses docker run's -v: HOST:CONTAINER[:OPTIONS] (a bind
// of an absolute host path), NAME:CONTAINER[:OPTIONS] (a named volume) or
// CONTAINER (an anonymous volume). OPTIONS are comma-separated: ro or rw,
// nocopy (volumes), private or rprivate (binds), z or Z (SELinux labels:
// see Relabel).
func ParseVolumeFlag(v string) (MountRequest, error) {
	const flag = "-v"
	m := MountRequest{Flag: fmt.Sprintf("%s %q", flag, v)}
	if hasControl(v) {
		return m, mountErr(flag, v, "the value contains a control character")
	}
	parts := strings.Split(v, ":")
	for _, p := range parts {
		if p == "" {
			return m, mountErr(flag, v, "use HOST-PATH:CONTAINER-PATH[:ro], VOLUME:CONTAINER-PATH[:ro] or CONTAINER-PATH")
		}
	}
	var mode string
	switch len(parts) {
	case 1:
		m.Type, m.Destination = MountVolume, parts[0]
	case 2:
		if isVolumeMode(parts[1]) {
			return m, mountErr(flag, v, "name what to mount before the container path: HOST-PATH:%s:%s or VOLUME:%s:%s", parts[0], parts[1], parts[0], parts[1])
		}
		m.Source, m.Destination = parts[0], parts[1]
	case 3:
		m.Source, m.Destination, mode = parts[0], parts[1], parts[2]
	default:
		return m, mountErr(flag, v, "too many colons: use HOST-PATH:CONTAINER-PATH[:OPTIONS] (paths with a colon can be given with --mount)")
	}
	if len(parts) > 1 {
		if filepath.IsAbs(m.Source) {
			m.Type, m.Source, m.CreateSource = MountBind, filepath.Clean(m.Source), true
		} else if ValidName(m.Source) {
			m.Type = MountVolume
		} else {
			return m, mountErr(flag, v, "%q is neither an absolute host path nor a volume name (letters, digits, _ . -): give a host directory as an absolute path", m.Source)
		}
	}
	if mode != "" {
		if err := parseVolumeMode(&m, mode); err != nil {
			return m, mountErr(flag, v, "%v", err)
		}
	}
	dst, err := cleanTarget(m.Destination)
	if err != nil {
		return m, mountErr(flag, v, "%v", err)
	}
	m.Destination = dst
	return m, nil
}

var propagationModes = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// isVolumeMode reports whether s reads as -v options rather than a path.
func isVolumeMode(s string) bool {
	for _, o := range strings.Split(s, ",") {
		switch {
		case o == "ro", o == "rw", o == "z", o == "Z", o == "nocopy", o == "copy", o == "idmap", propagationModes[o]:
		default:
			return false
		}
	}
	return true
}

func parseVolumeMode(m *MountRequest, mode string) error {
	seen := map[string]string{}
	for _, o := range strings.Split(mode, ",") {
		var kind string
		switch {
		case o == "ro" || o == "rw":
			kind, m.ReadOnly = "ro/rw", o == "ro"
		case o == "z" || o == "Z":
			kind, m.Relabel = "z/Z", o
		case o == "nocopy" || o == "copy":
			if m.Type != MountVolume {
				return fmt.Errorf("%s applies to volumes, not to a host path", o)
			}
			kind, m.NoCopy = "copy/nocopy", o == "nocopy"
		case o == "idmap":
			kind, m.IDMap = "idmap", true
		case propagationModes[o]:
			if m.Type == MountVolume {
				return fmt.Errorf("propagation %s applies to host paths, not to volumes", o)
			}
			if err := checkPropagation(o); err != nil {
				return err
			}
			kind, m.Propagation = "propagation", o
		default:
			return fmt.Errorf("unknown option %q: use ro, rw, nocopy, idmap, private or rprivate, separated by commas", o)
		}
		if prev, ok := seen[kind]; ok {
			return fmt.Errorf("options %s and %s conflict: give one", prev, o)
		}
		seen[kind] = o
	}
	return nil
}

func checkPropagation(p string) error {
	if p != "private" && p != "rprivate" {
		return fmt.Errorf("propagation %s is not supported yet: a container's mounts are private (use private or rprivate)", p)
	}
	return nil
}

// hasControl reports whether s holds a control character: no path or
// option needs one, and each would break the one-line error messages that
// quote the value.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// cleanTarget checks a container path: absolute, not /, and not inside
// /proc (the kernel's view of the container's processes, and its masks)
// except the lxcfs-style files a config may mount there too.
func cleanTarget(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("the container path is missing")
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("the container path %q must be absolute, e.g. /data", p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("the container path contains a NUL byte")
	}
	p = filepath.Clean(p)
	if p == "/" {
		return "", fmt.Errorf("the container path cannot be /: mount on a directory inside the container (use --rootfs or an image for its root)")
	}
	if err := rootfs.CheckProcDestination(p, "", false); err != nil {
		return "", fmt.Errorf("the container path %v", err)
	}
	return p, nil
}

// ParseMountFlag parses docker run's --mount: comma-separated key=value
// fields (CSV, so a field can be quoted): type=bind|volume|tmpfs (default
// volume), source|src, target|destination|dst, readonly|ro[=BOOL],
// bind-propagation, bind-recursive=enabled|disabled, volume-nocopy[=BOOL],
// volume-label=KEY=VALUE, volume-driver=local, tmpfs-size, tmpfs-mode.
// consistency is accepted and ignored, as on Linux docker.
func ParseMountFlag(v string) (MountRequest, error) {
	const flag = "--mount"
	m := MountRequest{Type: MountVolume, Flag: fmt.Sprintf("%s %q", flag, v)}
	if hasControl(v) {
		return m, mountErr(flag, v, "the value contains a control character")
	}
	r := csv.NewReader(strings.NewReader(v))
	fields, err := r.Read()
	if err != nil || len(fields) == 0 {
		return m, mountErr(flag, v, "use type=bind|volume|tmpfs,source=...,target=/PATH[,readonly]")
	}
	var (
		target, source bool
		prefixed       = map[string]string{} // bind-, volume-, tmpfs- key seen
		size, fmode    string
	)
	for _, field := range fields {
		key, val, hasVal := strings.Cut(field, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, mountErr(flag, v, "%s=%q: use true or false", key, val)
			}
			return b, nil
		}
		needVal := func() error {
			if !hasVal || val == "" {
				return mountErr(flag, v, "%s needs a value: %s=VALUE", key, key)
			}
			return nil
		}
		for _, p := range []string{"bind-", "volume-", "tmpfs-"} {
			if strings.HasPrefix(key, p) {
				prefixed[strings.TrimSuffix(p, "-")] = key
			}
		}
		switch key {
		case "type":
			if err := needVal(); err != nil {
				return m, err
			}
			switch val {
			case MountBind, MountVolume, MountTmpfs:
				m.Type = val
			default:
				return m, mountErr(flag, v, "type %q is not supported: use bind, volume or tmpfs", val)
			}
		case "source", "src":
			if err := needVal(); err != nil {
				return m, err
			}
			m.Source, source = val, true
		case "target", "destination", "dst":
			if err := needVal(); err != nil {
				return m, err
			}
			m.Destination, target = val, true
		case "readonly", "ro":
			if m.ReadOnly, err = boolVal(); err != nil {
				return m, err
			}
		case "bind-propagation":
			if err := needVal(); err != nil {
				return m, err
			}
			if !propagationModes[val] {
				return m, mountErr(flag, v, "bind-propagation %q: use private or rprivate", val)
			}
			if err := checkPropagation(val); err != nil {
				return m, mountErr(flag, v, "%v", err)
			}
			m.Propagation = val
		case "bind-recursive":
			switch val {
			case "enabled":
				m.NonRecursive = false
			case "disabled":
				m.NonRecursive = true
			case "writable", "readonly":
				return m, mountErr(flag, v, "bind-recursive=%s is not supported yet: use enabled or disabled", val)
			default:
				return m, mountErr(flag, v, "bind-recursive %q: use enabled or disabled", val)
			}
		case "bind-nonrecursive":
			if m.NonRecursive, err = boolVal(); err != nil {
				return m, err
			}
		case "volume-nocopy":
			if m.NoCopy, err = boolVal(); err != nil {
				return m, err
			}
		case "volume-label":
			k, lv, _ := strings.Cut(val, "=")
			if k == "" {
				return m, mountErr(flag, v, "volume-label needs KEY=VALUE")
			}
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[k] = lv
		case "volume-driver":
			if val != "local" {
				return m, mountErr(flag, v, "volume driver %q is not supported: berth has only local volumes", val)
			}
		case "volume-opt", "volume-subpath":
			return m, mountErr(flag, v, "%s is not supported yet: drop it", key)
		case "tmpfs-size":
			if err := needVal(); err != nil {
				return m, err
			}
			n, err := ParseSize(val)
			if err != nil {
				return m, mountErr(flag, v, "tmpfs-size: %v", err)
			}
			size = "size=" + strconv.FormatInt(n, 10)
		case "tmpfs-mode":
			if err := needVal(); err != nil {
				return m, err
			}
			mode, err := strconv.ParseUint(val, 8, 32)
			if err != nil || mode > 0o7777 {
				return m, mountErr(flag, v, "tmpfs-mode %q: use octal permission bits such as 1777", val)
			}
			fmode = "mode=" + strconv.FormatUint(mode, 8)
		case "consistency":
		default:
			return m, mountErr(flag, v, "unknown field %q: use type, source, target, readonly and the bind-, volume- or tmpfs- options of that type", key)
		}
	}
	for kind, key := range prefixed {
		if kind != m.Type {
			return m, mountErr(flag, v, "%s does not apply to type=%s", key, m.Type)
		}
	}
	if !target {
		return m, mountErr(flag, v, "the container path is missing: add target=/PATH")
	}
	dst, err := cleanTarget(m.Destination)
	if err != nil {
		return m, mountErr(flag, v, "%v", err)
	}
	m.Destination = dst
	switch m.Type {
	case MountBind:
		if !source {
			return m, mountErr(flag, v, "a bind needs its host path: add source=/PATH")
		}
		if !filepath.IsAbs(m.Source) {
			return m, mountErr(flag, v, "the host path %q must be absolute", m.Source)
		}
		m.Source = filepath.Clean(m.Source)
	case MountVolume:
		if source && !ValidName(m.Source) {
			return m, mountErr(flag, v, "%q is not a volume name (letters, digits, _ . -): for a host directory use type=bind", m.Source)
		}
	case MountTmpfs:
		if source {
			return m, mountErr(flag, v, "a tmpfs has no source: drop source=%s", m.Source)
		}
		for _, o := range []string{size, fmode} {
			if o != "" {
				m.Options = append(m.Options, o)
			}
		}
	}
	return m, nil
}

// ParseTmpfsFlag parses docker run's --tmpfs: CONTAINER-PATH[:OPTIONS],
// OPTIONS being tmpfs mount options separated by commas (size=64m,
// mode=1777, uid=, gid=, exec, ...).
func ParseTmpfsFlag(v string) (MountRequest, error) {
	const flag = "--tmpfs"
	m := MountRequest{Type: MountTmpfs, Flag: fmt.Sprintf("%s %q", flag, v)}
	if hasControl(v) {
		return m, mountErr(flag, v, "the value contains a control character")
	}
	path, opts, hasOpts := strings.Cut(v, ":")
	dst, err := cleanTarget(path)
	if err != nil {
		return m, mountErr(flag, v, "%v", err)
	}
	m.Destination = dst
	if hasOpts {
		if m.Options, err = normalizeTmpfsOptions(strings.Split(opts, ",")); err != nil {
			return m, mountErr(flag, v, "%v", err)
		}
	}
	return m, nil
}

// tmpfsOpposites pairs each flag option of a tmpfs with the one it
// cancels; the later of the two wins.
var tmpfsOpposites = map[string]string{
	"ro": "rw", "rw": "ro", "exec": "noexec", "noexec": "exec", "suid": "nosuid", "nosuid": "suid",
	"dev": "nodev", "nodev": "dev", "sync": "async", "async": "sync", "atime": "noatime", "noatime": "atime",
	"diratime": "nodiratime", "nodiratime": "diratime", "relatime": "norelatime", "norelatime": "relatime",
	"strictatime": "nostrictatime", "nostrictatime": "strictatime", "dirsync": "", "mand": "nomand", "nomand": "mand",
}

// defaultTmpfsOptions are docker's for --tmpfs and --mount type=tmpfs.
var defaultTmpfsOptions = []string{"noexec", "nosuid", "nodev"}

// normalizeTmpfsOptions checks tmpfs options and writes sizes in bytes,
// as the kernel reads them (it knows k, m and g but not 1.5g or 64mb).
func normalizeTmpfsOptions(opts []string) ([]string, error) {
	out := make([]string, 0, len(opts))
	for _, o := range opts {
		if _, ok := tmpfsOpposites[o]; ok {
			out = append(out, o)
			continue
		}
		key, val, ok := strings.Cut(o, "=")
		if !ok || val == "" {
			return nil, fmt.Errorf("unknown tmpfs option %q: use size=, mode=, uid=, gid=, nr_inodes=, exec, ro and the like", o)
		}
		switch key {
		case "size":
			if pct, ok := strings.CutSuffix(val, "%"); ok {
				if n, err := strconv.ParseUint(pct, 10, 32); err != nil || n == 0 {
					return nil, fmt.Errorf("tmpfs size %q: use a size such as 64m or a percentage of memory such as 50%%", val)
				}
				break
			}
			n, err := ParseSize(val)
			if err != nil {
				return nil, fmt.Errorf("tmpfs size: %v", err)
			}
			val = strconv.FormatInt(n, 10)
		case "nr_inodes", "nr_blocks":
			n, err := ParseSize(val)
			if err != nil {
				return nil, fmt.Errorf("tmpfs %s %q: use a number (k, m, g allowed)", key, val)
			}
			val = strconv.FormatInt(n, 10)
		case "mode":
			mode, err := strconv.ParseUint(val, 8, 32)
			if err != nil || mode > 0o7777 {
				return nil, fmt.Errorf("tmpfs mode %q: use octal permission bits such as 1777", val)
			}
		case "uid", "gid":
			if _, err := strconv.ParseUint(val, 10, 32); err != nil {
				return nil, fmt.Errorf("tmpfs %s %q: use a number", key, val)
			}
		case "huge":
			switch val {
			case "never", "always", "within_size", "advise", "deny", "force":
			default:
				return nil, fmt.Errorf("tmpfs huge %q: use never, always, within_size or advise", val)
			}
		case "mpol":
			// MODE[=FLAGS][:NODES], e.g. bind=static:0-3; passed on to
			// the kernel as it is.
			if strings.Trim(val, "abcdefghijklmnopqrstuvwxyz0123456789=:-_") != "" {
				return nil, fmt.Errorf("tmpfs mpol %q: use a policy such as bind:0-3 or interleave", val)
			}
		default:
			return nil, fmt.Errorf("unknown tmpfs option %q: use size=, mode=, uid=, gid=, nr_inodes=, exec, ro and the like", o)
		}
		out = append(out, key+"="+val)
	}
	return out, nil
}

// TmpfsOptions are a tmpfs's mount options: docker's defaults (noexec,
// nosuid, nodev) with the user's options applied in order, a later
// option replacing an earlier one of the same key or its opposite.
func TmpfsOptions(user []string) ([]string, error) {
	norm, err := normalizeTmpfsOptions(user)
	if err != nil {
		return nil, err
	}
	out := append([]string(nil), defaultTmpfsOptions...)
	for _, o := range norm {
		key, _, isKV := strings.Cut(o, "=")
		out = slices.DeleteFunc(out, func(prev string) bool {
			if isKV {
				k, _, _ := strings.Cut(prev, "=")
				return k == key
			}
			return prev == o || prev == tmpfsOpposites[o]
		})
		out = append(out, o)
	}
	return out, nil
}

// CheckMounts checks requests as a whole: each destination valid and
// used once.
func CheckMounts(ms []MountRequest) error {
	seen := make(map[string]string, len(ms))
	for _, m := range ms {
		dst, err := cleanTarget(m.Destination)
		if err != nil {
			return fmt.Errorf("invalid %s: %v", m.Flag, err)
		}
		if prev, ok := seen[dst]; ok {
			return fmt.Errorf("%s and %s both mount on %s: give each container path once", prev, m.Flag, dst)
		}
		seen[dst] = m.Flag
	}
	return nil
}

// applyMounts adds the user's mounts to the config, after the defaults and
// sorted by depth so that /a is mounted before /a/b; one on a default
// mount's destination (/dev/shm, say) replaces it, as in docker.
func applyMounts(s *specs.Spec, o RunOptions) error {
	s.Root.Readonly = o.ReadOnly
	if err := CheckMounts(o.Mounts); err != nil {
		return err
	}
	user := make([]specs.Mount, 0, len(o.Mounts))
	for _, m := range o.Mounts {
		if m.Relabel != "" && selinuxEnabled() {
			return fmt.Errorf("invalid %s: %s asks to relabel %s for SELinux, which is enabled on this host, but berth cannot relabel: drop %s", m.Flag, m.Relabel, m.Source, m.Relabel)
		}
		if m.IDMap && len(o.UIDMap) == 0 {
			return fmt.Errorf("invalid %s: idmap maps the owners into the container's user namespace, and it has none: add --userns=auto, or drop idmap", m.Flag)
		}
		om, err := ociMount(m)
		if err != nil {
			return err
		}
		user = append(user, om)
	}
	slices.SortStableFunc(user, func(a, b specs.Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	for _, m := range user {
		i := slices.IndexFunc(s.Mounts, func(d specs.Mount) bool { return d.Destination == m.Destination })
		if i >= 0 {
			s.Mounts[i] = m
			continue
		}
		s.Mounts = append(s.Mounts, m)
	}
	return nil
}

func ociMount(m MountRequest) (specs.Mount, error) {
	dst := filepath.Clean(m.Destination)
	rw := "rw"
	if m.ReadOnly {
		rw = "ro"
	}
	switch m.Type {
	case MountBind:
		if !filepath.IsAbs(m.Source) || strings.ContainsRune(m.Source, 0) {
			return specs.Mount{}, fmt.Errorf("invalid %s: the host path %q must be absolute", m.Flag, m.Source)
		}
		if _, err := os.Stat(m.Source); err != nil {
			if os.IsNotExist(err) {
				return specs.Mount{}, fmt.Errorf("invalid %s: host path %s does not exist: create it or fix the path", m.Flag, m.Source)
			}
			return specs.Mount{}, fmt.Errorf("%s: %w", m.Flag, err)
		}
		bind, prop := "rbind", "rprivate"
		if m.NonRecursive {
			bind = "bind"
		}
		if m.Propagation != "" {
			if err := checkPropagation(m.Propagation); err != nil {
				return specs.Mount{}, fmt.Errorf("invalid %s: %v", m.Flag, err)
			}
			prop = m.Propagation
		}
		opts := []string{bind, prop, rw}
		if m.IDMap {
			opts = append(opts, "idmap")
		}
		return specs.Mount{Destination: dst, Type: "bind", Source: m.Source, Options: opts}, nil
	case MountTmpfs:
		opts, err := TmpfsOptions(m.Options)
		if err != nil {
			return specs.Mount{}, fmt.Errorf("invalid %s: %v", m.Flag, err)
		}
		if m.ReadOnly {
			opts = append(slices.DeleteFunc(opts, func(o string) bool { return o == "rw" || o == "ro" }), "ro")
		}
		return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	case MountVolume:
		return specs.Mount{}, fmt.Errorf("%s: volume %q is not resolved to a host directory", m.Flag, m.Source)
	}
	return specs.Mount{}, fmt.Errorf("%s: unknown mount type %q", m.Flag, m.Type)
}
