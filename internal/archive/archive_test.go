package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// fixture is a container root and a host directory beside it, with a
// host file outside both that no copy may touch.
type fixture struct {
	t                  *testing.T
	root, host, secret string
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	f := &fixture{t: t, root: filepath.Join(dir, "root"), host: filepath.Join(dir, "host"), secret: filepath.Join(dir, "secret")}
	for _, d := range []string{f.root + "/etc", f.root + "/tmp", f.root + "/data/sub", f.host} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(f.secret, []byte("host secret\n"), 0o600))
	must(t, os.WriteFile(f.root+"/etc/shadow", []byte("container shadow\n"), 0o640))
	must(t, os.WriteFile(f.root+"/data/a", []byte("a\n"), 0o644))
	must(t, os.WriteFile(f.root+"/data/sub/b", []byte("b\n"), 0o600))
	must(t, os.Symlink("a", f.root+"/data/link"))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) container() Endpoint {
	r, err := os.OpenFile(f.root, unix.O_PATH|unix.O_DIRECTORY, 0)
	must(f.t, err)
	f.t.Cleanup(func() { r.Close() })
	return Endpoint{Root: Root{F: r, Contained: true}, Name: "container web"}
}

func (f *fixture) hostEnd() Endpoint {
	r, err := HostRoot()
	must(f.t, err)
	f.t.Cleanup(func() { r.F.Close() })
	return Endpoint{Root: r}
}

func at(e Endpoint, p string) Endpoint { e.Path = p; return e }

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCopyRules checks docker cp's rules for files, directories,
// SRC/. and destinations that exist or not.
func TestCopyRules(t *testing.T) {
	f := newFixture(t)
	c, h := f.container(), f.hostEnd()
	out := func(src, dst string) error { return Copy(at(c, src), at(h, dst), false, ExtractOptions{}) }

	must(t, out("/data/a", f.host+"/new"))          // file to a missing name: made as it
	must(t, out("/data/a", f.host))                 // file into a directory: its own name
	must(t, out("/data", f.host+"/copy"))           // directory to a missing name: made as it
	must(t, out("/data", f.host))                   // directory into a directory
	must(t, os.MkdirAll(f.host+"/contents", 0o755)) //
	must(t, out("/data/.", f.host+"/contents"))     // SRC/.: its contents
	t.Chdir(f.host)
	h = f.hostEnd()
	must(t, out("/data/a", "relative")) // a host path from the working directory
	for p, want := range map[string]string{
		"new": "a\n", "a": "a\n", "copy/a": "a\n", "copy/sub/b": "b\n", "data/sub/b": "b\n", "contents/a": "a\n", "contents/sub/b": "b\n", "relative": "a\n",
	} {
		if got := read(t, filepath.Join(f.host, p)); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
	if target, err := os.Readlink(f.host + "/copy/link"); err != nil || target != "a" {
		t.Errorf("symlink copied as %q, %v; want a symlink to a", target, err)
	}
	if _, err := os.Stat(f.host + "/contents/data"); err == nil {
		t.Error("SRC/. copied the directory itself")
	}
	fi, err := os.Stat(f.host + "/copy/sub/b")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode not kept: %v %v", fi, err)
	}

	for _, tc := range []struct {
		src, dst string
		class    error
		text     string
	}{
		{"/nope", f.host, errdefs.ErrNotFound, "Could not find the file /nope in container web"},
		{"/data", f.host + "/new", errdefs.ErrInvalidArgument, "cannot copy a directory to a file"},
		{"/data/a", f.host + "/missing/", errdefs.ErrNotFound, "no such file"},
		{"/data/a", f.host + "/missing/x", errdefs.ErrNotFound, "no such file"},
		{"/data/a/", f.host, errdefs.ErrInvalidArgument, "not a directory"},
	} {
		err := out(tc.src, tc.dst)
		if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("cp %s %s: %v, want %v with %q", tc.src, tc.dst, err, tc.class, tc.text)
		}
	}
	if _, err := os.Stat(f.host + "/missing"); err == nil {
		t.Error("a refused copy left a directory behind")
	}
}

// TestHostileSymlinks: the container's symlinks (absolute, and ../ out
// of its root) resolve inside it, whichever way the copy goes.
func TestHostileSymlinks(t *testing.T) {
	f := newFixture(t)
	rel, err := filepath.Rel(f.root+"/tmp", f.secret)
	must(t, err)
	must(t, os.Symlink("/etc/shadow", f.root+"/tmp/abs"))
	must(t, os.Symlink(rel, f.root+"/tmp/up"))                     // ../../secret
	must(t, os.Symlink(filepath.Dir(f.secret), f.root+"/tmp/dir")) // the host's directory, by its host path
	c, h := f.container(), f.hostEnd()

	// Out with -L: the container's /etc/shadow, not the host's file.
	must(t, Copy(at(c, "/tmp/abs"), at(h, f.host+"/abs"), true, ExtractOptions{}))
	if got := read(t, f.host+"/abs"); got != "container shadow\n" {
		t.Errorf("-L on /tmp/abs read %q", got)
	}
	// Without -L the link itself is copied.
	must(t, Copy(at(c, "/tmp/abs"), at(h, f.host+"/abslink"), false, ExtractOptions{}))
	if target, _ := os.Readlink(f.host + "/abslink"); target != "/etc/shadow" {
		t.Errorf("link copied as %q", target)
	}
	// ../.. stops at the container's root: the host's secret is not there.
	err = Copy(at(c, "/tmp/up"), at(h, f.host+"/up"), true, ExtractOptions{})
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("cp -L /tmp/up: %v, want not found", err)
	}
	// In through a symlink to the host's directory: lands inside, or
	// nowhere, never beside the host's secret.
	must(t, os.WriteFile(f.host+"/payload", []byte("pwned\n"), 0o644))
	_ = Copy(at(h, f.host+"/payload"), at(c, "/tmp/dir/payload"), false, ExtractOptions{})
	_ = Copy(at(h, f.host+"/payload"), at(c, "/tmp/up"), false, ExtractOptions{})
	if _, err := os.Stat(filepath.Join(filepath.Dir(f.secret), "payload")); err == nil {
		t.Fatal("a copy into the container wrote a host file")
	}
	if got := read(t, f.secret); got != "host secret\n" {
		t.Fatalf("the host's file was overwritten: %q", got)
	}
	// Copying onto /tmp/up followed the link as docker does, inside the
	// container: ../../secret there is the container's /secret.
	if got := read(t, f.root+"/secret"); got != "pwned\n" {
		t.Errorf("the container's /secret: %q", got)
	}
}

// tarOf builds a tar stream.
func tarOf(t *testing.T, hdrs ...*tar.Header) *bytes.Buffer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Linkname))
		}
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Linkname = ""
		}
		must(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return &buf
}

// TestHostileStream: a tar stream extracted on the host cannot leave
// its destination through its own symlinks or "..".
func TestHostileStream(t *testing.T) {
	f := newFixture(t)
	h := f.hostEnd()
	outside := filepath.Dir(f.secret)
	stream := tarOf(t,
		&tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: outside, Mode: 0o777},
		&tar.Header{Name: "esc/pwned", Typeflag: tar.TypeReg, Linkname: "x", Mode: 0o644})
	if err := Extract(stream, h.Root, f.host, ExtractOptions{}); err == nil {
		t.Error("a stream writing through its own symlink out of the destination was extracted")
	}
	stream = tarOf(t, &tar.Header{Name: "../../pwned2", Typeflag: tar.TypeReg, Linkname: "x", Mode: 0o644})
	must(t, Extract(stream, h.Root, f.host, ExtractOptions{}))
	for _, p := range []string{filepath.Join(outside, "pwned"), filepath.Join(outside, "pwned2")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written outside the destination", p)
		}
	}
	if _, err := os.Stat(f.host + "/pwned2"); err != nil {
		t.Errorf("../../pwned2 not kept inside the destination: %v", err)
	}
}

// TestOwners: without -a files copied in are the container's root's (its
// host ID under a user namespace); with -a they keep their owners,
// mapped; copied out, owners are named as the container sees them.
func TestOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	f := newFixture(t)
	c := f.container()
	c.Maps = IDMaps{UIDs: []IDMapping{{0, 100000, 65536}}, GIDs: []IDMapping{{0, 200000, 65536}}}
	stream := func() *bytes.Buffer {
		return tarOf(t, &tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 5, Gid: 6},
			&tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Linkname: "x", Mode: 0o4755, Uid: 1000, Gid: 1001})
	}
	uid, gid, err := c.Maps.HostOf(0, 0)
	must(t, err)
	must(t, Extract(stream(), c.Root, "/tmp", ExtractOptions{Owner: &[2]int{uid, gid}}))
	checkOwner(t, f.root+"/tmp/d/f", 100000, 200000, 0o4755)
	// A stream that names no directories: those made for it are root's too.
	must(t, Extract(tarOf(t, &tar.Header{Name: "x/y/z", Typeflag: tar.TypeReg, Linkname: "z", Mode: 0o644}), c.Root, "/tmp", ExtractOptions{Owner: &[2]int{uid, gid}}))
	checkOwner(t, f.root+"/tmp/x/y", 100000, 200000, 0o755)
	must(t, Extract(stream(), c.Root, "/data", ExtractOptions{KeepOwners: true, Maps: c.Maps}))
	checkOwner(t, f.root+"/data/d", 100005, 200006, 0o755)
	checkOwner(t, f.root+"/data/d/f", 101000, 201001, 0o4755)

	var buf bytes.Buffer
	must(t, Write(&buf, c.Root, "/data/d", "d", WriteOptions{Maps: c.Maps}))
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if hdr.Name == "d/f" && (hdr.Uid != 1000 || hdr.Gid != 1001) {
			t.Errorf("d/f written as %d:%d, want the container's 1000:1001", hdr.Uid, hdr.Gid)
		}
	}
	bad := tarOf(t, &tar.Header{Name: "x", Typeflag: tar.TypeReg, Linkname: "x", Mode: 0o644, Uid: 70000})
	if err := Extract(bad, c.Root, "/tmp", ExtractOptions{KeepOwners: true, Maps: c.Maps}); err == nil {
		t.Error("an owner outside the mapping was accepted")
	}
}

func checkOwner(t *testing.T, p string, uid, gid uint32, mode uint32) {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	if st.Uid != uid || st.Gid != gid || st.Mode&0o7777 != mode {
		t.Errorf("%s: %d:%d %o, want %d:%d %o", p, st.Uid, st.Gid, st.Mode&0o7777, uid, gid, mode)
	}
}

// TestWriteNames: a whole root is written with relative names, hard
// links once, and a stream extracted back gives the same files.
func TestWriteNames(t *testing.T) {
	f := newFixture(t)
	must(t, os.Link(f.root+"/data/a", f.root+"/data/hard"))
	// cap_net_raw+ep, as setcap writes it (VFS_CAP_REVISION_2).
	caps := []byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if os.Geteuid() == 0 {
		must(t, unix.Setxattr(f.root+"/etc/shadow", "security.capability", caps, 0))
	}
	c := f.container()
	var buf bytes.Buffer
	must(t, Write(&buf, c.Root, "/", "", WriteOptions{OneMount: true}))
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	var names []string
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
		if hdr.Name == "data/hard" && (hdr.Typeflag != tar.TypeLink || hdr.Linkname != "data/a") {
			t.Errorf("data/hard: type %c link %q, want a hard link to data/a", hdr.Typeflag, hdr.Linkname)
		}
	}
	want := []string{"data/", "data/a", "data/hard", "data/link", "data/sub/", "data/sub/b", "etc/", "etc/shadow", "tmp/"}
	if !sort.StringsAreSorted(names) || strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("names %v, want %v", names, want)
	}
	must(t, Extract(&buf, f.hostEnd().Root, f.host, ExtractOptions{}))
	var st1, st2 unix.Stat_t
	must(t, unix.Stat(f.host+"/data/a", &st1))
	must(t, unix.Stat(f.host+"/data/hard", &st2))
	if st1.Ino != st2.Ino {
		t.Error("the hard link was extracted as a copy")
	}
	if os.Geteuid() == 0 {
		buf := make([]byte, 64)
		n, err := unix.Getxattr(f.host+"/etc/shadow", "security.capability", buf)
		if err != nil || !bytes.Equal(buf[:n], caps) {
			t.Errorf("file capabilities not kept: %x %v", buf[:n], err)
		}
	}
}

// TestDiff reads an overlay upper layer: whiteouts, opaque directories,
// changed and added files, sorted.
func TestDiff(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for whiteouts and trusted xattrs")
	}
	dir := t.TempDir()
	lower, upper := dir+"/lower", dir+"/upper"
	for _, d := range []string{lower + "/etc", lower + "/var/cache", lower + "/bin", lower + "/srv", upper + "/srv/vol", upper + "/etc/new.d", upper + "/var/cache", upper + "/root"} {
		must(t, os.MkdirAll(d, 0o755))
	}
	for _, p := range []string{lower + "/etc/passwd", lower + "/etc/hosts", lower + "/var/cache/old", lower + "/bin/sh",
		upper + "/etc/passwd", upper + "/etc/hostname", upper + "/etc/new.d/x", upper + "/var/cache/fresh", upper + "/root/.ash_history"} {
		must(t, os.WriteFile(p, nil, 0o644))
	}
	must(t, unix.Mknod(upper+"/etc/hosts", unix.S_IFCHR, 0))
	must(t, unix.Setxattr(upper+"/var/cache", "trusted.overlay.opaque", []byte("y"), 0))
	got, err := Diff(upper, []string{lower})
	must(t, err)
	var lines []string
	for _, c := range got {
		lines = append(lines, c.String())
	}
	want := []string{"C /etc", "A /etc/hostname", "D /etc/hosts", "A /etc/new.d", "A /etc/new.d/x", "C /etc/passwd", "A /root", "A /root/.ash_history",
		"C /srv", "A /srv/vol", "C /var", "C /var/cache", "A /var/cache/fresh"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// The mount points berth made (/etc/hostname, a volume's /srv/vol)
	// are not the container's changes, nor /srv made changed by one.
	lines = nil
	for _, c := range WithoutMountPoints(got, []string{"/etc/hostname", "/srv/vol", "/proc"}, upper, []string{lower}, IDMaps{}) {
		lines = append(lines, c.String())
	}
	want = []string{"C /etc", "D /etc/hosts", "A /etc/new.d", "A /etc/new.d/x", "C /etc/passwd", "A /root", "A /root/.ash_history",
		"C /var", "C /var/cache", "A /var/cache/fresh"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("without mount points:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestSwapRace: a container that swaps a directory for a symlink out of
// its root while berth copies into and out of it (CVE-2018-15664) gets
// nothing of the host's: every resolution happens inside the root.
func TestSwapRace(t *testing.T) {
	f := newFixture(t)
	outside := filepath.Dir(f.secret)
	must(t, os.Mkdir(outside+"/target", 0o755))
	must(t, os.WriteFile(outside+"/target/f", []byte("host file\n"), 0o644))
	must(t, os.WriteFile(f.host+"/f", []byte("pwned\n"), 0o644))
	rel, err := filepath.Rel(f.root+"/tmp", outside+"/target")
	must(t, err)
	must(t, os.Mkdir(f.root+"/tmp/w", 0o755))
	must(t, os.WriteFile(f.root+"/tmp/w/f", []byte("container\n"), 0o644))
	must(t, os.Symlink(rel, f.root+"/tmp/w.link"))
	c, h := f.container(), f.hostEnd()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// As the CVE's exploit: /tmp/w is the directory and the
			// symlink by turns, exchanged atomically.
			_ = unix.Renameat2(unix.AT_FDCWD, f.root+"/tmp/w", unix.AT_FDCWD, f.root+"/tmp/w.link", unix.RENAME_EXCHANGE)
		}
	}()
	for i := 0; i < 300; i++ {
		_ = Copy(at(h, f.host+"/f"), at(c, "/tmp/w/f"), false, ExtractOptions{})
		os.Remove(f.host + "/out")
		if Copy(at(c, "/tmp/w/f"), at(h, f.host+"/out"), true, ExtractOptions{}) == nil {
			if b, _ := os.ReadFile(f.host + "/out"); string(b) == "host file\n" {
				t.Fatal("a copy out read the host's file through a swapped symlink")
			}
		}
	}
	close(stop)
	<-done
	if got := read(t, outside+"/target/f"); got != "host file\n" {
		t.Fatalf("a copy in wrote the host's file through a swapped symlink: %q", got)
	}
}
