package rootfs

import (
	"fmt"
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
}

// IsBind reports whether the mount is a bind mount.
func (m Mount) IsBind() bool { return m.Flags&unix.MS_BIND != 0 }

type flagOption struct {
	clear bool
	flag  uintptr
}

var flagOptions = map[string]flagOption{
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

// ParseMount turns a config mount (type, source, destination and option
// strings) into flags and file-system data.
func ParseMount(typ, source, dest string, options []string) (Mount, error) {
	m := Mount{Source: source, Destination: dest, Type: typ}
	var data []string
	for _, o := range options {
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
		if strings.ContainsAny(o, "\x00") {
			return Mount{}, fmt.Errorf("mount %s: option %q contains a NUL byte", dest, o)
		}
		data = append(data, o)
	}
	if typ == "bind" || typ == "rbind" {
		m.Flags |= unix.MS_BIND
		if typ == "rbind" {
			m.Flags |= unix.MS_REC
		}
	}
	if m.IsBind() {
		// File-system options mean nothing to a bind mount; runc and the
		// kernel ignore them, and configs in the wild carry them.
		m.Type = "bind"
		data = nil
	}
	m.Data = strings.Join(data, ",")
	return m, nil
}
