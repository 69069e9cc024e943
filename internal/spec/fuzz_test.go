package spec_test

import (
	"bytes"
	"encoding/csv"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The flag syntax of berth run is hostile input where berth runs on behalf
// of others (CI systems, compose files): these fuzz tests check that the
// parsers never panic, and that what they accept is well-formed and reads
// back the same when written out again.

// mountSeeds are -v, --mount and --tmpfs values from the review and the
// tests: paths into /proc in the spellings an attacker tries, the
// lxcfs-style files that are allowed, and malformed syntax.
var mountSeeds = []string{
	"/host:/ctr", "/host/:/ctr/../data/", "/host:/ctr:ro", "/host:/ctr:rw,z", "/host:/ctr:ro,private",
	"data:/var/lib/data", "my-vol.1:/d:ro,nocopy", "/anon", "/host:/proc/meminfo:ro",
	"/host:/proc/sys/net", "/host:/proc/./sys/net", "/host://proc/sys/net:ro", "/host:/proc/../proc/sys/net",
	"/host:/proc/sys/net/", "/host:/proc", "/host:/proc/sys/kernel/core_pattern", "/host:/proc/self/attr/exec",
	"/host:/", "/host:ctr", "/host::ro", "/a:/b:/c:ro", "/host:/ctr:ro,rw", "/host:/ctr:Z,z", "vol:/ctr:rprivate",
	"/host:/ctr\x00", "/host:/ctr:rshared",
	"type=bind,source=/a,target=/b", `type=bind,"source=/a,b",target=/c:d`, "type=bind,src=/a,dst=//proc/sys/net",
	"type=bind,src=/a,dst=/proc/uptime,readonly", "type=volume,src=v,dst=/d,volume-label=a=b,volume-nocopy",
	"type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770", "type=tmpfs,dst=/proc", `"type=bind,src=/a,dst=/b`,
	"type=bind,src=/a,dst=/b,bind-recursive=disabled,bind-propagation=private", "TYPE=tmpfs,Target=/t,readonly",
	"/t:size=64m,mode=1777", "/t:size=50%,exec,uid=1000,gid=1000,nr_inodes=1k,huge=within_size",
	"/t:mpol=bind:0", "/proc:size=1m", "/proc/sys/:rw", "/t:size=", "/t:upperdir=/x",
}

// volumeFlag writes m as a -v value.
func volumeFlag(m spec.MountRequest) string {
	var opts []string
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	if m.Propagation != "" {
		opts = append(opts, m.Propagation)
	}
	if m.Relabel != "" {
		opts = append(opts, m.Relabel)
	}
	if m.NoCopy {
		opts = append(opts, "nocopy")
	}
	v := m.Destination
	if m.Source != "" {
		v = m.Source + ":" + v
	}
	if len(opts) > 0 {
		v += ":" + strings.Join(opts, ",")
	}
	return v
}

// checkOneLine fails unless err is one line naming the flag: berth
// prints it as the whole error.
func checkOneLine(t *testing.T, flag, v string, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "invalid "+flag+" ") {
		t.Errorf("%s %q: error %q is not one line naming the flag", flag, v, msg)
	}
}

// checkDestination holds for every container path a parser accepts.
func checkDestination(t *testing.T, flag, v string, m spec.MountRequest) {
	t.Helper()
	d := m.Destination
	if !path.IsAbs(d) || path.Clean(d) != d || d == "/" || strings.ContainsRune(d, 0) {
		t.Errorf("%s %q accepted the container path %q", flag, v, d)
	}
	if err := rootfs.CheckProcDestination(d, m.Type, m.Type == spec.MountBind); err != nil {
		t.Errorf("%s %q accepted a container path inside /proc: %v", flag, v, err)
	}
}

func FuzzParseVolumeFlag(f *testing.F) {
	for _, s := range mountSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := spec.ParseVolumeFlag(v)
		if err != nil {
			checkOneLine(t, "-v", v, err)
			return
		}
		checkDestination(t, "-v", v, m)
		switch m.Type {
		case spec.MountBind:
			if !path.IsAbs(m.Source) || path.Clean(m.Source) != m.Source {
				t.Errorf("-v %q: bind of %q", v, m.Source)
			}
		case spec.MountVolume:
			if m.Source != "" && !spec.ValidName(m.Source) {
				t.Errorf("-v %q: volume name %q", v, m.Source)
			}
		default:
			t.Errorf("-v %q: type %q", v, m.Type)
		}
		again, err := spec.ParseVolumeFlag(volumeFlag(m))
		if err != nil || !reflect.DeepEqual(mountFields(again), mountFields(m)) {
			t.Errorf("-v %q = %+v, written as %q reads back as %+v, %v", v, m, volumeFlag(m), again, err)
		}
	})
}

// mountFlag writes m as a --mount value, CSV-quoted as needed.
func mountFlag(t *testing.T, m spec.MountRequest) string {
	fields := []string{"type=" + m.Type, "target=" + m.Destination}
	if m.Source != "" {
		fields = append(fields, "source="+m.Source)
	}
	if m.ReadOnly {
		fields = append(fields, "readonly")
	}
	if m.Propagation != "" {
		fields = append(fields, "bind-propagation="+m.Propagation)
	}
	if m.NonRecursive {
		fields = append(fields, "bind-recursive=disabled")
	}
	if m.NoCopy {
		fields = append(fields, "volume-nocopy")
	}
	for k, v := range m.Labels {
		fields = append(fields, "volume-label="+k+"="+v)
	}
	for _, o := range m.Options {
		k, v, _ := strings.Cut(o, "=")
		fields = append(fields, "tmpfs-"+k+"="+v)
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.Write(fields); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func FuzzParseMountFlag(f *testing.F) {
	for _, s := range mountSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := spec.ParseMountFlag(v)
		if err != nil {
			checkOneLine(t, "--mount", v, err)
			return
		}
		checkDestination(t, "--mount", v, m)
		switch m.Type {
		case spec.MountBind:
			if !path.IsAbs(m.Source) || path.Clean(m.Source) != m.Source {
				t.Errorf("--mount %q: bind of %q", v, m.Source)
			}
		case spec.MountVolume:
			if m.Source != "" && !spec.ValidName(m.Source) {
				t.Errorf("--mount %q: volume name %q", v, m.Source)
			}
		case spec.MountTmpfs:
			if _, err := spec.TmpfsOptions(m.Options); err != nil {
				t.Errorf("--mount %q: tmpfs options %q: %v", v, m.Options, err)
			}
		default:
			t.Errorf("--mount %q: type %q", v, m.Type)
		}
		// CSV turns \r\n inside a quoted field into \n: no round trip.
		if strings.ContainsRune(v, '\r') {
			return
		}
		written := mountFlag(t, m)
		again, err := spec.ParseMountFlag(written)
		if err != nil || !reflect.DeepEqual(mountFields(again), mountFields(m)) {
			t.Errorf("--mount %q = %+v, written as %q reads back as %+v, %v", v, m, written, again, err)
		}
	})
}

func FuzzParseTmpfsFlag(f *testing.F) {
	for _, s := range mountSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := spec.ParseTmpfsFlag(v)
		if err != nil {
			checkOneLine(t, "--tmpfs", v, err)
			return
		}
		checkDestination(t, "--tmpfs", v, m)
		opts, err := spec.TmpfsOptions(m.Options)
		if err != nil {
			t.Fatalf("--tmpfs %q: options %q: %v", v, m.Options, err)
		}
		for _, o := range opts {
			// The kernel reads sizes in bytes or with k, m, g: ParseSize's
			// 1.5g or 64mb must have been written out.
			if k, val, ok := strings.Cut(o, "="); ok && (k == "size" || k == "nr_inodes" || k == "nr_blocks") && !strings.HasSuffix(val, "%") {
				if _, err := strconv.ParseUint(val, 10, 64); err != nil {
					t.Errorf("--tmpfs %q: option %q is not in bytes", v, o)
				}
			}
			if strings.ContainsAny(o, ",\x00") {
				t.Errorf("--tmpfs %q: option %q", v, o)
			}
		}
		written := m.Destination
		if len(m.Options) > 0 {
			written += ":" + strings.Join(m.Options, ",")
		}
		again, err := spec.ParseTmpfsFlag(written)
		if err != nil || !reflect.DeepEqual(mountFields(again), mountFields(m)) {
			t.Errorf("--tmpfs %q = %+v, written as %q reads back as %+v, %v", v, m, written, again, err)
		}
	})
}

// FuzzEnvFile feeds --env-file contents through ParseEnvFile (ReadEnvFile
// without the file) and ExpandEnv,
// as berth run does. What comes out must be entries a config accepts
// (ValidateProcess), or a one-line error.
func FuzzEnvFile(f *testing.F) {
	for _, seed := range []string{
		"A=1\nB=2\n", "# comment\n\n  C=3\r\nD\n", "E =x\n", "=x\n", "F=a=b=c\n", "G=\x00\n", "H\x00=1\n",
		"\tI=tab\n", "J=trailing space \n", "K=\r\r\n", "PATH\n",
		"#only a comment", "M=é\xff\n", "N=line\\\ncontinued\n",
	} {
		f.Add([]byte(seed))
	}
	lookup := func(k string) (string, bool) {
		if k == "PATH" {
			return "/usr/bin:/bin", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := spec.ParseEnvFile(bytes.NewReader(data), "env")
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error of more than one line: %q", err)
			}
			return
		}
		for _, l := range lines {
			name, _, _ := strings.Cut(l, "=")
			if l == "" || strings.HasPrefix(l, "#") || strings.ContainsAny(name, " \t") || strings.ContainsRune(l, '\n') {
				t.Errorf("ReadEnvFile returned the entry %q", l)
			}
		}
		env, err := spec.ExpandEnv(lines, lookup)
		if err != nil {
			return
		}
		for _, kv := range env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				t.Errorf("ExpandEnv returned %q", kv)
			}
		}
		merged := spec.MergeEnv([]string{"PATH=" + spec.DefaultPath}, env...)
		p := &specs.Process{Args: []string{"/bin/true"}, Cwd: "/", Env: merged}
		if err := spec.ValidateProcess(p); err != nil && !slices.ContainsFunc(merged, func(kv string) bool { return strings.ContainsRune(kv, 0) }) {
			t.Errorf("an env file's entries %q are refused: %v", merged, err)
		}
	})
}
