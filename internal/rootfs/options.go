package rootfs

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one mount, already translated from the config's option strings.
type Mount struct {
	Source      string    `json:"src,omitempty"`
	Destination string    `json:"dst"`
	Type        string    `json:"type,omitempty"`
	Flags       uintptr   `json:"flags,omitempty"`
	Propagation []uintptr `json:"prop,omitempty"`
	Data        string    `json:"data,omitempty"`
	// RecAttrSet and RecAttrClr are mount_setattr(2) attributes applied,
	// after the mount, to it and every mount below it (rro, rnoexec, ...).
	RecAttrSet uint64 `json:"recSet,omitempty"`
	RecAttrClr uint64 `json:"recClr,omitempty"`
	// CopyUp (tmpcopyup) fills a new tmpfs with a copy of what the
	// rootfs had at its destination.
	CopyUp bool `json:"copyUp,omitempty"`
	// CopySymlink (copy-symlink) makes the destination of a bind whose
	// source is a symlink a copy of that symlink, not a mount.
	CopySymlink bool `json:"copySymlink,omitempty"`
	// IDMap, when set, makes the bind an idmapped mount.
	IDMap *IDMap `json:"idmap,omitempty"`
	// TreeFD, when not 0, is a descriptor the init stage inherits: the
	// bind's tree, cloned (and idmapped) by the parent before the init
	// stage entered its namespaces, to be attached at the destination.
	TreeFD int `json:"treeFD,omitempty"`
}

// IDMap is how an idmapped bind mount maps the owners of its files: by
// the user namespace that UIDs and GIDs describe (as in uid_map), over
// the whole tree when Recursive (ridmap).
type IDMap struct {
	Recursive bool      `json:"recursive,omitempty"`
	UIDs      []IDRange `json:"uids,omitempty"`
	GIDs      []IDRange `json:"gids,omitempty"`
}

// IDRange is one line of a uid_map or gid_map.
type IDRange struct {
	ContainerID uint32 `json:"c"`
	HostID      uint32 `json:"h"`
	Size        uint32 `json:"n"`
}

// IsBind reports whether the mount is a bind mount.
func (m Mount) IsBind() bool { return m.Flags&unix.MS_BIND != 0 }

type flagOption struct {
	clear bool
	flag  uintptr
}

// flagOptions are the options that are mount(2) flags: runc 1.1.5's
// table (libcontainer/specconv), so that a config means the same here.
var flagOptions = map[string]flagOption{
	"acl":           {false, unix.MS_POSIXACL},
	"noacl":         {true, unix.MS_POSIXACL},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"nosuid":        {false, unix.MS_NOSUID},
	"suid":          {true, unix.MS_NOSUID},
	"nodev":         {false, unix.MS_NODEV},
	"dev":           {true, unix.MS_NODEV},
	"noexec":        {false, unix.MS_NOEXEC},
	"exec":          {true, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"remount":       {false, unix.MS_REMOUNT},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"atime":         {true, unix.MS_NOATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"iversion":      {false, unix.MS_I_VERSION},
	"noiversion":    {true, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"silent":        {false, unix.MS_SILENT},
	"loud":          {true, unix.MS_SILENT},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW}, // Linux 5.10
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"bind":          {false, unix.MS_BIND},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"defaults":      {false, 0},
}

// PropagationFlags maps propagation names to mount(2) flags.
var PropagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type attrOption struct {
	clear bool
	attr  uint64
}

// recAttrOptions are runc's recursive options: mount_setattr(2)
// attributes (Linux 5.12) set or cleared on a mount and all below it.
var recAttrOptions = map[string]attrOption{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW}, // Linux 5.14
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// recAtimeOptions set the atime field of recursive attributes. That field
// is one value (relatime is 0), not bits: mount_setattr(2) refuses to clear
// part of it, so runc's "clear noatime" (ratime) or "clear strictatime"
// (rnostrictatime) fail with EINVAL there. Each option here names the value
// the field gets instead: the negations fall back to the kernel's default,
// relatime, and rnorelatime to strictatime, as norelatime does.
var recAtimeOptions = map[string]uint64{
	"rrelatime":      unix.MOUNT_ATTR_RELATIME,
	"rnorelatime":    unix.MOUNT_ATTR_STRICTATIME,
	"rnoatime":       unix.MOUNT_ATTR_NOATIME,
	"ratime":         unix.MOUNT_ATTR_RELATIME,
	"rstrictatime":   unix.MOUNT_ATTR_STRICTATIME,
	"rnostrictatime": unix.MOUNT_ATTR_RELATIME,
}

// ExtensionOptions are the options that are neither flags nor file-system
// data: runtime extensions (tmpcopyup as runc and crun have it,
// copy-symlink as crun has it, idmap and ridmap as in runc 1.2).
var ExtensionOptions = []string{"tmpcopyup", "copy-symlink", "idmap", "ridmap"}

// KnownOptions lists every option name ParseMount understands, sorted
// as they are advertised (berth-oci features).
func KnownOptions() []string {
	var out []string
	for o := range flagOptions {
		out = append(out, o)
	}
	for o := range PropagationFlags {
		out = append(out, o)
	}
	for o := range recAttrOptions {
		out = append(out, o)
	}
	for o := range recAtimeOptions {
		out = append(out, o)
	}
	out = append(out, ExtensionOptions...)
	sort.Strings(out)
	return out
}

// ParseMount turns a config mount (type, source, destination and option
// strings) into flags and file-system data. An option a bind mount cannot
// take is refused by name; other file systems get theirs as data, which
// the kernel judges (an EINVAL is then traced to the option, see
// explainEINVAL).
func ParseMount(typ, source, dest string, options []string) (Mount, error) {
	m := Mount{Source: source, Destination: dest, Type: typ}
	var data []string
	idmap, ridmap := false, false
	for _, o := range options {
		if strings.ContainsAny(o, "\x00") {
			return Mount{}, fmt.Errorf("mount %s: option %q contains a NUL byte", dest, o)
		}
		if f, ok := flagOptions[o]; ok {
			if f.clear {
				m.Flags &^= f.flag
			} else {
				m.Flags |= f.flag
			}
			continue
		}
		if p, ok := PropagationFlags[o]; ok {
			m.Propagation = append(m.Propagation, p)
			continue
		}
		if a, ok := recAttrOptions[o]; ok {
			// The last of a pair wins, as with the flags above.
			if a.clear {
				m.RecAttrSet &^= a.attr
				m.RecAttrClr |= a.attr
			} else {
				m.RecAttrSet |= a.attr
				m.RecAttrClr &^= a.attr
			}
			continue
		}
		if v, ok := recAtimeOptions[o]; ok {
			m.RecAttrSet = m.RecAttrSet&^unix.MOUNT_ATTR__ATIME | v
			m.RecAttrClr |= unix.MOUNT_ATTR__ATIME
			continue
		}
		switch o {
		case "tmpcopyup":
			m.CopyUp = true
		case "copy-symlink":
			m.CopySymlink = true
		case "idmap":
			idmap = true
		case "ridmap":
			ridmap = true
		default:
			data = append(data, o)
		}
	}
	// An atime setting replaces the whole atime field: mount_setattr(2)
	// wants MOUNT_ATTR__ATIME cleared to set one.
	if m.RecAttrSet&unix.MOUNT_ATTR__ATIME != 0 {
		m.RecAttrClr |= unix.MOUNT_ATTR__ATIME
	}
	if typ == "bind" || typ == "rbind" {
		m.Flags |= unix.MS_BIND
		if typ == "rbind" {
			m.Flags |= unix.MS_REC
		}
	}
	if idmap || ridmap {
		m.IDMap = &IDMap{Recursive: ridmap}
	}
	if m.IsBind() {
		if m.CopyUp {
			return Mount{}, fmt.Errorf("mount %s: option \"tmpcopyup\" needs a tmpfs, not a bind mount", dest)
		}
		m.Type = "bind"
		var err error
		if data, err = bindData(dest, data); err != nil {
			return Mount{}, err
		}
	} else if err := checkNonBind(m); err != nil {
		return Mount{}, err
	}
	m.Data = strings.Join(data, ",")
	return m, nil
}

// bindData checks the leftover options of a bind mount. A key=value
// option is file-system data, which means nothing to a bind and is
// dropped, as runc and the kernel do (configs in the wild and the OCI
// validation suite carry them); any other word is a mistake.
func bindData(dest string, data []string) ([]string, error) {
	for _, o := range data {
		if !strings.Contains(o, "=") {
			return nil, UnknownOptionError(dest, o, "a bind mount takes only mount flags, propagation and runtime options")
		}
	}
	return nil, nil
}

// checkNonBind refuses the options that only a bind mount can take.
func checkNonBind(m Mount) error {
	switch {
	case m.CopySymlink:
		return fmt.Errorf("mount %s: option \"copy-symlink\" needs a bind mount", m.Destination)
	case m.IDMap != nil:
		return fmt.Errorf("mount %s: idmapped mounts (idmap, ridmap) need a bind mount", m.Destination)
	case m.CopyUp && m.Type != "tmpfs":
		return fmt.Errorf("mount %s: option \"tmpcopyup\" needs a tmpfs, not %q", m.Destination, m.Type)
	}
	return nil
}

// UnknownOptionError is the one line that names an option nothing knows.
func UnknownOptionError(dest, option, why string) error {
	return fmt.Errorf("mount %s: unknown option %q: %s", dest, option, why)
}
