package spec_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mountFields is what the parsers' tests compare: everything but Flag.
func mountFields(m spec.MountRequest) spec.MountRequest {
	m.Flag = ""
	return m
}

func TestParseVolumeFlag(t *testing.T) {
	cases := []struct {
		in   string
		want spec.MountRequest
	}{
		{"/host:/ctr", spec.MountRequest{Type: "bind", Source: "/host", Destination: "/ctr", CreateSource: true}},
		{"/host/:/ctr/../data/", spec.MountRequest{Type: "bind", Source: "/host", Destination: "/data", CreateSource: true}},
		{"/host:/ctr:ro", spec.MountRequest{Type: "bind", Source: "/host", Destination: "/ctr", CreateSource: true, ReadOnly: true}},
		{"/host:/ctr:rw,z", spec.MountRequest{Type: "bind", Source: "/host", Destination: "/ctr", CreateSource: true, Relabel: "z"}},
		{"/host:/proc/meminfo:ro", spec.MountRequest{Type: "bind", Source: "/host", Destination: "/proc/meminfo", CreateSource: true, ReadOnly: true}},
		{"/host:/proc/./sys/kernel/ns_last_pid/", spec.MountRequest{Type: "bind", Source: "/host", Destination: "/proc/sys/kernel/ns_last_pid", CreateSource: true}},
		{"/host:/ctr:ro,private", spec.MountRequest{Type: "bind", Source: "/host", Destination: "/ctr", CreateSource: true, ReadOnly: true, Propagation: "private"}},
		{"data:/var/lib/data", spec.MountRequest{Type: "volume", Source: "data", Destination: "/var/lib/data"}},
		{"my-vol.1:/d:ro,nocopy", spec.MountRequest{Type: "volume", Source: "my-vol.1", Destination: "/d", ReadOnly: true, NoCopy: true}},
		{"/anon", spec.MountRequest{Type: "volume", Destination: "/anon"}},
	}
	for _, c := range cases {
		got, err := spec.ParseVolumeFlag(c.in)
		if err != nil {
			t.Errorf("ParseVolumeFlag(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(mountFields(got), c.want) {
			t.Errorf("ParseVolumeFlag(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if !strings.Contains(got.Flag, c.in) {
			t.Errorf("ParseVolumeFlag(%q).Flag = %q does not name the value", c.in, got.Flag)
		}
	}
}

func TestParseVolumeFlagErrors(t *testing.T) {
	cases := map[string]string{
		"":                            "use HOST-PATH",
		":/ctr":                       "use HOST-PATH",
		"/host:":                      "use HOST-PATH",
		"/host::ro":                   "use HOST-PATH",
		"/ctr:ro":                     "name what to mount",
		"relative":                    "must be absolute",
		"/host:ctr":                   "must be absolute",
		"/host:/":                     "cannot be /",
		"/host:/proc":                 "only a proc file system",
		"/host:/proc/sys/kernel":      "inside /proc",
		"/host:/proc/./sys/net/":      `"/proc/sys/net" is inside /proc`,
		"/host\n:/ctr":                "control character",
		"/host:/proc/../proc/sys/net": `"/proc/sys/net" is inside /proc`,
		"/host:/proc/meminfo/x":       "inside /proc",
		"./data:/ctr":                 "neither an absolute host path nor a volume name",
		"-vol:/ctr":                   "neither an absolute host path nor a volume name",
		"a b:/ctr":                    "neither an absolute host path nor a volume name",
		"/a:/b:/c:ro":                 "too many colons",
		"/host:/ctr:rx":               `unknown option "rx"`,
		"/host:/ctr:ro,rw":            "conflict",
		"/host:/ctr:private,rprivate": "conflict",
		"/host:/ctr:rshared":          "not supported yet",
		"/host:/ctr:nocopy":           "applies to volumes",
		"vol:/ctr:rprivate":           "applies to host paths",
		"vol:/ctr:nocopy,copy":        "conflict",
	}
	for in, want := range cases {
		_, err := spec.ParseVolumeFlag(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "invalid -v ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseVolumeFlag(%q) error %v, want one line naming -v and %q", in, err, want)
		}
	}
}

func TestParseMountFlag(t *testing.T) {
	cases := []struct {
		in   string
		want spec.MountRequest
	}{
		{"type=bind,source=/a,target=/b", spec.MountRequest{Type: "bind", Source: "/a", Destination: "/b"}},
		{"type=bind,src=/a/,dst=/b/,readonly", spec.MountRequest{Type: "bind", Source: "/a", Destination: "/b", ReadOnly: true}},
		{"type=bind,src=/a,destination=/b,ro=false,bind-propagation=private,bind-recursive=disabled", spec.MountRequest{Type: "bind", Source: "/a", Destination: "/b", Propagation: "private", NonRecursive: true}},
		{"type=bind,src=/a,dst=/b,bind-nonrecursive,consistency=cached", spec.MountRequest{Type: "bind", Source: "/a", Destination: "/b", NonRecursive: true}},
		{`type=bind,"source=/a,b",target=/c:d`, spec.MountRequest{Type: "bind", Source: "/a,b", Destination: "/c:d"}},
		{"source=vol,target=/data", spec.MountRequest{Type: "volume", Source: "vol", Destination: "/data"}},
		{"type=volume,src=vol,dst=/data,readonly=1,volume-nocopy,volume-label=a=b,volume-driver=local", spec.MountRequest{Type: "volume", Source: "vol", Destination: "/data", ReadOnly: true, NoCopy: true, Labels: map[string]string{"a": "b"}}},
		{"type=volume,target=/anon", spec.MountRequest{Type: "volume", Destination: "/anon"}},
		{"type=tmpfs,target=/t", spec.MountRequest{Type: "tmpfs", Destination: "/t"}},
		{"type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770", spec.MountRequest{Type: "tmpfs", Destination: "/t", Options: []string{"size=67108864", "mode=1770"}}},
		{"TYPE=tmpfs,Target=/t,readonly", spec.MountRequest{Type: "tmpfs", Destination: "/t", ReadOnly: true}},
	}
	for _, c := range cases {
		got, err := spec.ParseMountFlag(c.in)
		if err != nil {
			t.Errorf("ParseMountFlag(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(mountFields(got), c.want) {
			t.Errorf("ParseMountFlag(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseMountFlagErrors(t *testing.T) {
	cases := map[string]string{
		"":                                                      "use type=",
		`type=bind,"src=/a`:                                     "use type=",
		"type=bind,source=/a":                                   "add target=",
		"type=bind,target=/b":                                   "add source=",
		"type=bind,source=a,target=/b":                          "must be absolute",
		"type=bind,source=/a,target=b":                          "must be absolute",
		"type=bind,source=/a,target=/":                          "cannot be /",
		"type=bind,source=/a,target=//proc/sys/net":             `"/proc/sys/net" is inside /proc`,
		"type=bind,source=/a\n,target=/b":                       "control character",
		"type=bind,source=/a,target=/proc":                      "only a proc file system",
		"type=nfs,target=/b":                                    `type "nfs" is not supported`,
		"type=,target=/b":                                       "type needs a value",
		"type=bind,source=/a,target=/b,foo=bar":                 `unknown field "foo"`,
		"type=bind,source=/a,target=/b,readonly=maybe":          "use true or false",
		"type=bind,source=/a,target=/b,bind-propagation=rslave": "not supported yet",
		"type=bind,source=/a,target=/b,bind-propagation=up":     "use private or rprivate",
		"type=bind,source=/a,target=/b,bind-recursive=readonly": "not supported yet",
		"type=bind,source=/a,target=/b,volume-nocopy":           "does not apply to type=bind",
		"type=volume,source=/a,target=/b":                       "not a volume name",
		"type=volume,source=v,target=/b,tmpfs-size=1m":          "does not apply to type=volume",
		"type=volume,source=v,target=/b,volume-driver=nfs":      "not supported",
		"type=volume,source=v,target=/b,volume-opt=o=x":         "not supported yet",
		"type=volume,source=v,target=/b,volume-label=":          "KEY=VALUE",
		"type=tmpfs,source=x,target=/t":                         "has no source",
		"type=tmpfs,target=/t,tmpfs-size=lots":                  "tmpfs-size",
		"type=tmpfs,target=/t,tmpfs-mode=999":                   "octal",
		"type=tmpfs,target=/t,bind-propagation=private":         "does not apply to type=tmpfs",
	}
	for in, want := range cases {
		_, err := spec.ParseMountFlag(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "invalid --mount ") {
			t.Errorf("ParseMountFlag(%q) error %v, want one naming --mount and %q", in, err, want)
		}
	}
}

func TestParseTmpfsFlag(t *testing.T) {
	cases := []struct {
		in   string
		want spec.MountRequest
	}{
		{"/t", spec.MountRequest{Type: "tmpfs", Destination: "/t"}},
		{"/run/x/:size=64m,mode=1777", spec.MountRequest{Type: "tmpfs", Destination: "/run/x", Options: []string{"size=67108864", "mode=1777"}}},
		{"/t:size=50%,exec,uid=1000,gid=1000,nr_inodes=1k,huge=within_size", spec.MountRequest{Type: "tmpfs", Destination: "/t", Options: []string{"size=50%", "exec", "uid=1000", "gid=1000", "nr_inodes=1024", "huge=within_size"}}},
		{"/t:mpol=bind=static:0-3", spec.MountRequest{Type: "tmpfs", Destination: "/t", Options: []string{"mpol=bind=static:0-3"}}},
	}
	for _, c := range cases {
		got, err := spec.ParseTmpfsFlag(c.in)
		if err != nil {
			t.Errorf("ParseTmpfsFlag(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(mountFields(got), c.want) {
			t.Errorf("ParseTmpfsFlag(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	bad := map[string]string{
		"t":                    "must be absolute",
		"":                     "missing",
		"/":                    "cannot be /",
		"/proc":                "only a proc file system",
		"/proc/sys/":           `"/proc/sys" is inside /proc`,
		"/t:mpol=bind;0":       "tmpfs mpol",
		"/t:mpol=bind:0-3\x00": "control character",
		"/t:mpol=bind:0 ":      "tmpfs mpol",
		"/t:size=lots":         "tmpfs size",
		"/t:size=0%":           "percentage",
		"/t:mode=8":            "octal",
		"/t:uid=me":            "use a number",
		"/t:huge=maybe":        "tmpfs huge",
		"/t:bind":              `unknown tmpfs option "bind"`,
		"/t:upperdir=/x":       `unknown tmpfs option "upperdir=/x"`,
		"/t:size=":             "unknown tmpfs option",
	}
	for in, want := range bad {
		_, err := spec.ParseTmpfsFlag(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "invalid --tmpfs ") {
			t.Errorf("ParseTmpfsFlag(%q) error %v, want one naming --tmpfs and %q", in, err, want)
		}
	}
}

func TestTmpfsOptionsMergeDefaults(t *testing.T) {
	cases := []struct {
		in   []string
		want []string
	}{
		{nil, []string{"noexec", "nosuid", "nodev"}},
		{[]string{"exec"}, []string{"nosuid", "nodev", "exec"}},
		{[]string{"size=1k", "size=2k", "mode=700"}, []string{"noexec", "nosuid", "nodev", "size=2048", "mode=700"}},
		{[]string{"ro", "rw", "noexec"}, []string{"nosuid", "nodev", "rw", "noexec"}},
	}
	for _, c := range cases {
		got, err := spec.TmpfsOptions(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("TmpfsOptions(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func mustParse(t *testing.T, parse func(string) (spec.MountRequest, error), v string) spec.MountRequest {
	t.Helper()
	m, err := parse(v)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mountIndex(s *specs.Spec, dst string) int {
	return slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == dst })
}

func TestFromRunOptionsMounts(t *testing.T) {
	host := t.TempDir()
	file := filepath.Join(host, "file")
	os.WriteFile(file, nil, 0o644)
	o := runOpts(t)
	o.ReadOnly = true
	o.Mounts = []spec.MountRequest{
		mustParse(t, spec.ParseVolumeFlag, host+":/data/sub:ro"),
		mustParse(t, spec.ParseMountFlag, "type=bind,src="+host+",dst=/data,bind-recursive=disabled"),
		mustParse(t, spec.ParseMountFlag, "type=bind,src="+file+",dst=/etc/app.conf"),
		mustParse(t, spec.ParseTmpfsFlag, "/tmp:size=64m,mode=1777"),
		mustParse(t, spec.ParseTmpfsFlag, "/dev/shm:size=1g"),
		mustParse(t, spec.ParseMountFlag, "type=tmpfs,dst=/ro,readonly"),
	}
	s := mustFromRunOptions(t, o)
	if !s.Root.Readonly {
		t.Error("--read-only did not make the root read-only")
	}
	want := map[string]specs.Mount{
		"/data/sub":     {Destination: "/data/sub", Type: "bind", Source: host, Options: []string{"rbind", "rprivate", "ro"}},
		"/data":         {Destination: "/data", Type: "bind", Source: host, Options: []string{"bind", "rprivate", "rw"}},
		"/etc/app.conf": {Destination: "/etc/app.conf", Type: "bind", Source: file, Options: []string{"rbind", "rprivate", "rw"}},
		"/tmp":          {Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "size=67108864", "mode=1777"}},
		"/dev/shm":      {Destination: "/dev/shm", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "size=1073741824"}},
		"/ro":           {Destination: "/ro", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "ro"}},
	}
	for dst, w := range want {
		got := findMount(s, dst)
		if got == nil || !reflect.DeepEqual(*got, w) {
			t.Errorf("mount %s = %+v, want %+v", dst, got, w)
		}
	}
	// /data before /data/sub, whatever the flags' order; /dev/shm
	// replaced in place, once.
	if i, j := mountIndex(s, "/data"), mountIndex(s, "/data/sub"); i < 0 || j < i {
		t.Errorf("/data/sub (%d) is mounted before /data (%d)", j, i)
	}
	shm, dev := mountIndex(s, "/dev/shm"), mountIndex(s, "/dev")
	if shm < dev || len(slices.DeleteFunc(slices.Clone(s.Mounts), func(m specs.Mount) bool { return m.Destination != "/dev/shm" })) != 1 {
		t.Errorf("/dev/shm not replaced in place: %+v", s.Mounts)
	}
	if len(s.Mounts) != len(spec.DefaultMounts())+5 {
		t.Errorf("%d mounts, want the %d defaults and 5 more", len(s.Mounts), len(spec.DefaultMounts()))
	}
}

func TestFromRunOptionsMountErrors(t *testing.T) {
	host := t.TempDir()
	cases := []struct {
		mounts []spec.MountRequest
		want   string
	}{
		{[]spec.MountRequest{mustParse(t, spec.ParseVolumeFlag, host+":/a"), mustParse(t, spec.ParseTmpfsFlag, "/a/")}, "both mount on /a"},
		{[]spec.MountRequest{mustParse(t, spec.ParseMountFlag, "type=bind,src=/nonexistent/dir,dst=/a")}, "host path /nonexistent/dir does not exist"},
		{[]spec.MountRequest{mustParse(t, spec.ParseVolumeFlag, "vol:/a")}, "not resolved"},
		{[]spec.MountRequest{{Type: "bind", Source: "rel", Destination: "/a", Flag: "-v"}}, "must be absolute"},
		{[]spec.MountRequest{{Type: "tmpfs", Destination: "a", Flag: "--tmpfs"}}, "must be absolute"},
		{[]spec.MountRequest{{Type: "tmpfs", Destination: "/a", Options: []string{"bogus"}, Flag: "--tmpfs"}}, "unknown tmpfs option"},
		{[]spec.MountRequest{{Type: "nfs", Destination: "/a", Flag: "--mount"}}, "unknown mount type"},
	}
	for _, c := range cases {
		o := runOpts(t)
		o.Mounts = c.mounts
		if _, err := spec.FromRunOptions(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("FromRunOptions with %+v: error %v, want %q", c.mounts, err, c.want)
		}
	}
}

func TestPrivilegedKeepsUserMountsReadOnly(t *testing.T) {
	o := runOpts(t)
	o.Privileged = true
	o.Mounts = []spec.MountRequest{mustParse(t, spec.ParseVolumeFlag, t.TempDir()+":/sys:ro")}
	s := mustFromRunOptions(t, o)
	m := findMount(s, "/sys")
	if m == nil || m.Type != "bind" || !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys = %+v, want the user's read-only bind", m)
	}
}

func TestCheckMountsDuplicateNamesBothFlags(t *testing.T) {
	err := spec.CheckMounts([]spec.MountRequest{
		mustParse(t, spec.ParseVolumeFlag, "v:/x"),
		mustParse(t, spec.ParseMountFlag, "type=tmpfs,target=/x/."),
	})
	if err == nil || !strings.Contains(err.Error(), `-v "v:/x"`) || !strings.Contains(err.Error(), `--mount "type=tmpfs,target=/x/."`) {
		t.Errorf("CheckMounts duplicate: %v", err)
	}
}

// TestRelabelNeedsSELinuxDisabled: -v's z and Z are ignored where SELinux
// is disabled and refused where it is enabled, since berth cannot relabel.
func TestRelabelNeedsSELinuxDisabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		restore := spec.SetSELinuxEnabled(enabled)
		o := runOpts(t)
		o.Mounts = []spec.MountRequest{mustParse(t, spec.ParseVolumeFlag, t.TempDir()+":/data:Z")}
		_, err := spec.FromRunOptions(o)
		restore()
		if enabled && (err == nil || !strings.Contains(err.Error(), "drop Z")) {
			t.Errorf("Z with SELinux enabled: %v, want a refusal", err)
		}
		if !enabled && err != nil {
			t.Errorf("Z with SELinux disabled: %v", err)
		}
	}
}
