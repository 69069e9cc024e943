package rootfs_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/rootfs"
	"golang.org/x/sys/unix"
)

func TestParseMount(t *testing.T) {
	tests := []struct {
		name     string
		typ, src string
		options  []string
		want     rootfs.Mount // Source and Destination are filled in
	}{
		{
			name: "no options", typ: "proc", src: "proc",
			want: rootfs.Mount{Type: "proc"},
		},
		{
			name: "ro nosuid nodev", typ: "sysfs", src: "sysfs", options: []string{"ro", "nosuid", "nodev"},
			want: rootfs.Mount{Type: "sysfs", Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV},
		},
		{
			name: "proc defaults", typ: "proc", src: "proc", options: []string{"nosuid", "noexec", "nodev"},
			want: rootfs.Mount{Type: "proc", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
		},
		{
			name: "rw clears ro", typ: "tmpfs", src: "tmpfs", options: []string{"ro", "nosuid", "rw"},
			want: rootfs.Mount{Type: "tmpfs", Flags: unix.MS_NOSUID},
		},
		{
			name: "last of ro and rw wins", typ: "tmpfs", src: "tmpfs", options: []string{"rw", "ro"},
			want: rootfs.Mount{Type: "tmpfs", Flags: unix.MS_RDONLY},
		},
		{
			name: "clearing options", typ: "tmpfs", src: "tmpfs",
			options: []string{"nosuid", "nodev", "noexec", "noatime", "suid", "dev", "exec", "atime"},
			want:    rootfs.Mount{Type: "tmpfs"},
		},
		{
			name: "defaults is no flag", typ: "tmpfs", src: "tmpfs", options: []string{"defaults"},
			want: rootfs.Mount{Type: "tmpfs"},
		},
		{
			name: "atime options", typ: "tmpfs", src: "tmpfs", options: []string{"relatime", "strictatime", "nodiratime", "sync", "dirsync"},
			want: rootfs.Mount{Type: "tmpfs", Flags: unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_NODIRATIME | unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC},
		},
		{
			name: "rbind option", typ: "none", src: "/srv", options: []string{"rbind"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_REC},
		},
		{
			name: "bind option", typ: "", src: "/srv", options: []string{"bind", "ro"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_RDONLY},
		},
		{
			name: "bind type", typ: "bind", src: "/srv", options: []string{"nosuid"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_NOSUID},
		},
		{
			name: "rbind type", typ: "rbind", src: "/srv",
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_REC},
		},
		{
			name: "rbind rprivate", typ: "bind", src: "/srv", options: []string{"rbind", "rprivate"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_REC, Propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC}},
		},
		{
			name: "propagation order kept", typ: "bind", src: "/srv", options: []string{"rslave", "shared", "unbindable"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND, Propagation: []uintptr{unix.MS_SLAVE | unix.MS_REC, unix.MS_SHARED, unix.MS_UNBINDABLE}},
		},
		{
			name: "data options", typ: "tmpfs", src: "tmpfs", options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			want: rootfs.Mount{Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		},
		{
			name: "devpts", typ: "devpts", src: "devpts", options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			want: rootfs.Mount{Type: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		},
		{
			name: "overlay data", typ: "overlay", src: "overlay", options: []string{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w"},
			want: rootfs.Mount{Type: "overlay", Data: "lowerdir=/a:/b,upperdir=/u,workdir=/w"},
		},
		{
			name: "propagation on a non-bind mount", typ: "tmpfs", src: "tmpfs", options: []string{"rprivate", "size=1m"},
			want: rootfs.Mount{Type: "tmpfs", Propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC}, Data: "size=1m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rootfs.ParseMount(tt.typ, tt.src, "/dst", tt.options)
			if err != nil {
				t.Fatalf("ParseMount(%q, %q) error: %v", tt.typ, tt.options, err)
			}
			want := tt.want
			want.Source, want.Destination = tt.src, "/dst"
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseMount(%q, %q) =\n  %+v\nwant\n  %+v", tt.typ, tt.options, got, want)
			}
			if wantBind := want.Flags&unix.MS_BIND != 0; got.IsBind() != wantBind {
				t.Errorf("IsBind() = %v, want %v", got.IsBind(), wantBind)
			}
		})
	}
}

func TestParseMountPropagationFlags(t *testing.T) {
	for name, flag := range rootfs.PropagationFlags {
		rec := strings.HasPrefix(name, "r")
		if got := flag&unix.MS_REC != 0; got != rec {
			t.Errorf("PropagationFlags[%q] recursive = %v, want %v", name, got, rec)
		}
		got, err := rootfs.ParseMount("bind", "/srv", "/dst", []string{name})
		if err != nil || !reflect.DeepEqual(got.Propagation, []uintptr{flag}) || got.Data != "" {
			t.Errorf("ParseMount(bind, [%s]) = %+v, %v", name, got, err)
		}
	}
}

func TestParseMountRejects(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		options []string
		part    string
	}{
		{"NUL in option", "tmpfs", []string{"size=1m\x00mode=777"}, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rootfs.ParseMount(tt.typ, "/srv", "/dst", tt.options)
			if err == nil {
				t.Fatalf("ParseMount(%q, %q) = %+v, want an error", tt.typ, tt.options, got)
			}
			if !strings.Contains(err.Error(), tt.part) || !strings.Contains(err.Error(), "/dst") {
				t.Errorf("ParseMount error %q should name /dst and %q", err, tt.part)
			}
			if !reflect.DeepEqual(got, rootfs.Mount{}) {
				t.Errorf("ParseMount returned %+v with its error, want the zero Mount", got)
			}
		})
	}
}

// File-system options on bind mounts are ignored, as runc and the kernel
// do: configs in the wild (and the OCI validation suite) carry them.
func TestParseMountIgnoresBindData(t *testing.T) {
	for _, opts := range [][]string{{"ro", "mode=755"}, {"rbind", "size=1k", "uid=0"}} {
		m, err := rootfs.ParseMount("bind", "/srv", "/dst", opts)
		if err != nil || m.Data != "" || !m.IsBind() {
			t.Errorf("ParseMount(bind, %q) = %+v, %v", opts, m, err)
		}
	}
}

func TestParseMountRuntimeOptions(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		options []string
		want    rootfs.Mount // Source and Destination are filled in
	}{
		{
			name: "rro on an rbind", typ: "bind", options: []string{"rbind", "rro"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_REC, RecAttrSet: unix.MOUNT_ATTR_RDONLY},
		},
		{
			name: "last of rro and rrw wins", typ: "bind", options: []string{"rbind", "rro", "rrw"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_REC, RecAttrClr: unix.MOUNT_ATTR_RDONLY},
		},
		{
			name: "recursive flags", typ: "bind", options: []string{"rbind", "rnoexec", "rnosuid", "rnodev", "rnosymfollow", "rexec"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_REC,
				RecAttrSet: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSYMFOLLOW, RecAttrClr: unix.MOUNT_ATTR_NOEXEC},
		},
		{
			name: "an atime attribute clears the atime field", typ: "bind", options: []string{"bind", "rnoatime"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND, RecAttrSet: unix.MOUNT_ATTR_NOATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME},
		},
		{
			name: "nosymfollow then symfollow", typ: "tmpfs", options: []string{"nosymfollow", "noexec", "symfollow"},
			want: rootfs.Mount{Type: "tmpfs", Flags: unix.MS_NOEXEC},
		},
		{
			name: "nosymfollow", typ: "bind", options: []string{"bind", "nosymfollow"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_NOSYMFOLLOW},
		},
		{
			name: "tmpcopyup is not data", typ: "tmpfs", options: []string{"rw", "tmpcopyup", "nosuid", "mode=755"},
			want: rootfs.Mount{Type: "tmpfs", Flags: unix.MS_NOSUID, CopyUp: true, Data: "mode=755"},
		},
		{
			name: "copy-symlink", typ: "bind", options: []string{"bind", "copy-symlink"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND, CopySymlink: true},
		},
		{
			name: "idmap", typ: "bind", options: []string{"bind", "idmap"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND, IDMap: &rootfs.IDMap{}},
		},
		{
			name: "ridmap", typ: "bind", options: []string{"rbind", "ridmap"},
			want: rootfs.Mount{Type: "bind", Flags: unix.MS_BIND | unix.MS_REC, IDMap: &rootfs.IDMap{Recursive: true}},
		},
		{
			name: "acl, lazytime, iversion, silent", typ: "tmpfs", options: []string{"acl", "lazytime", "iversion", "silent"},
			want: rootfs.Mount{Type: "tmpfs", Flags: unix.MS_POSIXACL | unix.MS_LAZYTIME | unix.MS_I_VERSION | unix.MS_SILENT},
		},
		{
			name: "unknown words on a file system are its data", typ: "tmpfs", options: []string{"noswap", "huge=always"},
			want: rootfs.Mount{Type: "tmpfs", Data: "noswap,huge=always"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rootfs.ParseMount(tt.typ, "/srv", "/dst", tt.options)
			if err != nil {
				t.Fatalf("ParseMount(%q, %q) error: %v", tt.typ, tt.options, err)
			}
			want := tt.want
			want.Source, want.Destination = "/srv", "/dst"
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseMount(%q, %q) =\n  %+v\nwant\n  %+v", tt.typ, tt.options, got, want)
			}
		})
	}
}

func TestParseMountRefusesMisplacedOptions(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		options []string
		part    string
	}{
		{"unknown word on a bind", "bind", []string{"rbind", "foo"}, `unknown option "foo"`},
		{"tmpcopyup on a bind", "bind", []string{"bind", "tmpcopyup"}, "tmpcopyup"},
		{"tmpcopyup on proc", "proc", []string{"tmpcopyup"}, "tmpcopyup"},
		{"copy-symlink on a tmpfs", "tmpfs", []string{"copy-symlink"}, "copy-symlink"},
		{"idmap on a tmpfs", "tmpfs", []string{"idmap"}, "idmap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rootfs.ParseMount(tt.typ, "/srv", "/dst", tt.options)
			if err == nil {
				t.Fatalf("ParseMount(%q, %q) = %+v, want an error", tt.typ, tt.options, got)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.part) || !strings.HasPrefix(msg, "mount /dst: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting %q and naming %q", msg, "mount /dst: ", tt.part)
			}
		})
	}
}

// TestKnownOptionsParse: every option berth advertises is understood, on
// a bind or on a tmpfs, and never passed on as file-system data.
func TestKnownOptionsParse(t *testing.T) {
	for _, o := range rootfs.KnownOptions() {
		b, errB := rootfs.ParseMount("bind", "/srv", "/dst", []string{o})
		f, errF := rootfs.ParseMount("tmpfs", "tmpfs", "/dst", []string{o})
		if (errB != nil || b.Data != "") && (errF != nil || f.Data != "") {
			t.Errorf("option %q: bind %+v %v; tmpfs %+v %v", o, b, errB, f, errF)
		}
	}
	if n := len(rootfs.KnownOptions()); n < 65 {
		t.Errorf("%d known options: the table lost some", n)
	}
}
