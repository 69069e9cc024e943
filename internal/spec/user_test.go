package spec_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/spec"
	"golang.org/x/sys/unix"
)

const testPasswd = `# a comment
root:x:0:0:root:/root:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
nohome:x:1002:1002:::/bin/sh
broken line without colons
bad:x:notanumber:1:::/bin/sh
short:x:1003:1003

carol:x:1004:100:Carol:/home/carol:/bin/sh
`

const testGroup = `# groups
root:x:0:
users:x:100:
alice:x:1000:
bob:x:1001:
staff:x:50:alice,bob
docker:x:999:alice
wheel:x:10:carol,alice
bad:x:oops:alice
`

// fakeRootfs makes a directory holding etc/passwd and etc/group; an empty
// content leaves the file out.
func fakeRootfs(t *testing.T, passwd, group string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if passwd != "" {
		writeFile(t, filepath.Join(root, "etc", "passwd"), passwd)
	}
	if group != "" {
		writeFile(t, filepath.Join(root, "etc", "group"), group)
	}
	return root
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveUser(t *testing.T) {
	root := fakeRootfs(t, testPasswd, testGroup)
	tests := []struct {
		spec    string
		want    spec.User
		errPart string
	}{
		{spec: "", want: spec.User{UID: 0, GID: 0, Home: "/root"}},
		{spec: "0", want: spec.User{UID: 0, GID: 0, Home: "/root"}},
		{spec: "root", want: spec.User{UID: 0, GID: 0, Home: "/root"}},
		// Numeric uid found in passwd: its gid, home and group memberships.
		{spec: "1000", want: spec.User{UID: 1000, GID: 1000, Home: "/home/alice", AdditionalGids: []uint32{50, 999, 10}}},
		// Numeric uid unknown to passwd: gid 0, home /.
		{spec: "4242", want: spec.User{UID: 4242, GID: 0, Home: "/"}},
		{spec: "4242:4343", want: spec.User{UID: 4242, GID: 4343, Home: "/"}},
		{spec: "1001:1001", want: spec.User{UID: 1001, GID: 1001, Home: "/home/bob", AdditionalGids: nil}}, // an explicit group replaces memberships
		{spec: "alice", want: spec.User{UID: 1000, GID: 1000, Home: "/home/alice", AdditionalGids: []uint32{50, 999, 10}}},
		{spec: "bob", want: spec.User{UID: 1001, GID: 1001, Home: "/home/bob", AdditionalGids: []uint32{50}}},
		// The primary group is not repeated among the additional ones.
		{spec: "bob:staff", want: spec.User{UID: 1001, GID: 50, Home: "/home/bob"}},
		{spec: "4242:staff", want: spec.User{UID: 4242, GID: 50, Home: "/"}},
		{spec: "carol", want: spec.User{UID: 1004, GID: 100, Home: "/home/carol", AdditionalGids: []uint32{10}}},
		// An empty home field falls back to /.
		{spec: "nohome", want: spec.User{UID: 1002, GID: 1002, Home: "/"}},
		{spec: "mallory", errPart: "unable to find user mallory"},
		// Malformed passwd lines are skipped, not matched.
		{spec: "bad", errPart: "unable to find user bad"},
		{spec: "short", errPart: "unable to find user short"},
		{spec: "alice:nogroup", errPart: "unable to find group nogroup"},
		{spec: "1000:bad", errPart: "unable to find group bad"},
		{spec: "alice:", errPart: "--user"},
		{spec: ":staff", errPart: "--user"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := spec.ResolveUser(root, tt.spec)
			if tt.errPart != "" {
				if err == nil {
					t.Fatalf("ResolveUser(%q) = %+v, want an error", tt.spec, got)
				}
				if !strings.Contains(err.Error(), tt.errPart) {
					t.Errorf("ResolveUser(%q) error %q does not contain %q", tt.spec, err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveUser(%q) error: %v", tt.spec, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ResolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

// TestResolveUserExplicitGroupNoSupplementary: with an explicit group
// (name:group) Docker/runc set no supplementary groups from /etc/group
// (runc libcontainer/user.GetExecUser: "Supplementary group ids only make
// sense if in the implicit form"). A user asking for alice:users expects to
// run without alice's docker and wheel memberships.
func TestResolveUserExplicitGroupNoSupplementary(t *testing.T) {
	root := fakeRootfs(t, testPasswd, testGroup)
	for _, s := range []string{"alice:users", "alice:100", "1000:100"} {
		got, err := spec.ResolveUser(root, s)
		if err != nil {
			t.Fatalf("ResolveUser(%q) error: %v", s, err)
		}
		if got.GID != 100 {
			t.Errorf("ResolveUser(%q).GID = %d, want 100", s, got.GID)
		}
		if len(got.AdditionalGids) != 0 {
			t.Errorf("ResolveUser(%q).AdditionalGids = %v, want none: an explicit group replaces the user's group memberships, as in Docker", s, got.AdditionalGids)
		}
	}
}

// TestResolveUserRejectsOutOfRangeIDs: uid/gid 4294967295 is (uid_t)-1,
// which setresuid/setresgid read as "leave unchanged": the container would
// keep running as uid/gid 0. runc rejects ids above 2147483647.
func TestResolveUserRejectsOutOfRangeIDs(t *testing.T) {
	root := fakeRootfs(t, "", "")
	for _, s := range []string{"4294967295", "1000:4294967295", "4294967295:4294967295"} {
		if got, err := spec.ResolveUser(root, s); err == nil {
			t.Errorf("ResolveUser(%q) = %+v, want an error: id 4294967295 is (uid_t)-1, which setresuid/setresgid ignore", s, got)
		}
	}
	hostile := fakeRootfs(t, "evil:x:4294967295:4294967295::/:/bin/sh\n", "")
	if got, err := spec.ResolveUser(hostile, "evil"); err == nil {
		t.Errorf("ResolveUser(evil) = %+v, want an error: the image's passwd maps it to uid 4294967295", got)
	}
}

func TestResolveUserNoPasswd(t *testing.T) {
	root := t.TempDir() // no etc at all
	tests := []struct {
		spec string
		want spec.User
	}{
		{"", spec.User{Home: "/"}},
		{"0", spec.User{Home: "/"}},
		{"1000", spec.User{UID: 1000, Home: "/"}},
		{"1000:1000", spec.User{UID: 1000, GID: 1000, Home: "/"}},
	}
	for _, tt := range tests {
		got, err := spec.ResolveUser(root, tt.spec)
		if err != nil {
			t.Errorf("ResolveUser(%q) without passwd error: %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ResolveUser(%q) without passwd = %+v, want %+v", tt.spec, got, tt.want)
		}
	}
	for _, s := range []string{"root", "alice", "1000:staff"} {
		if got, err := spec.ResolveUser(root, s); err == nil {
			t.Errorf("ResolveUser(%q) without passwd/group = %+v, want an error", s, got)
		}
	}
}

// TestResolveUserHostileSymlinks: an image whose etc/passwd is a symlink to
// a host path must not make berth read the host's file: the link is
// resolved inside the rootfs.
func TestResolveUserHostileSymlinks(t *testing.T) {
	hostPasswd, err := os.ReadFile("/etc/passwd")
	if err != nil || !strings.Contains("\n"+string(hostPasswd), "\nroot:") {
		t.Skip("the host has no /etc/passwd with root in it")
	}

	t.Run("absolute link to /etc/passwd", func(t *testing.T) {
		root := fakeRootfs(t, "", "")
		if err := os.Symlink("/etc/passwd", filepath.Join(root, "etc", "passwd")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/group", filepath.Join(root, "etc", "group")); err != nil {
			t.Fatal(err)
		}
		// Inside the rootfs /etc/passwd is the link itself: a loop, so
		// there is no passwd and only numeric ids work.
		if got, err := spec.ResolveUser(root, "root"); err == nil {
			t.Errorf("ResolveUser(root) = %+v: the host's /etc/passwd was read through the image's symlink", got)
		}
		got, err := spec.ResolveUser(root, "0")
		if err != nil {
			t.Fatalf("ResolveUser(0) error: %v", err)
		}
		if want := (spec.User{Home: "/"}); !reflect.DeepEqual(got, want) {
			t.Errorf("ResolveUser(0) = %+v, want %+v (the host's root home must not leak in)", got, want)
		}
	})

	t.Run("relative link climbing out", func(t *testing.T) {
		root := fakeRootfs(t, "", "")
		if err := os.Symlink("../../../../../../../../etc/passwd", filepath.Join(root, "etc", "passwd")); err != nil {
			t.Fatal(err)
		}
		if got, err := spec.ResolveUser(root, "root"); err == nil {
			t.Errorf("ResolveUser(root) = %+v: a relative symlink escaped the rootfs", got)
		}
	})

	t.Run("absolute link resolved inside rootfs", func(t *testing.T) {
		// A real host file holding daemon, and a file at the same path
		// inside the rootfs holding only alice.
		hostDir := t.TempDir()
		hostFile := filepath.Join(hostDir, "passwd")
		writeFile(t, hostFile, "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n")
		root := fakeRootfs(t, "", "")
		writeFile(t, filepath.Join(root, hostFile), "alice:x:1000:1000::/home/alice:/bin/sh\n")
		if err := os.Symlink(hostFile, filepath.Join(root, "etc", "passwd")); err != nil {
			t.Fatal(err)
		}
		if got, err := spec.ResolveUser(root, "daemon"); err == nil {
			t.Errorf("ResolveUser(daemon) = %+v: the host file %s was read through the image's symlink", got, hostFile)
		}
		got, err := spec.ResolveUser(root, "alice")
		if err != nil {
			t.Fatalf("ResolveUser(alice) error: %v (the symlink should resolve inside the rootfs)", err)
		}
		if want := (spec.User{UID: 1000, GID: 1000, Home: "/home/alice"}); !reflect.DeepEqual(got, want) {
			t.Errorf("ResolveUser(alice) = %+v, want %+v", got, want)
		}
	})

	t.Run("symlinked etc directory", func(t *testing.T) {
		root := t.TempDir()
		if err := os.Symlink("/etc", filepath.Join(root, "etc")); err != nil {
			t.Fatal(err)
		}
		if got, err := spec.ResolveUser(root, "root"); err == nil {
			t.Errorf("ResolveUser(root) = %+v: the host's /etc was read through the image's etc symlink", got)
		}
	})
}

// TestResolveUserNotRegular: a passwd that is a directory or a FIFO is
// treated as missing, and a FIFO must not block.
func TestResolveUserNotRegular(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		root := fakeRootfs(t, "", "")
		if err := os.Mkdir(filepath.Join(root, "etc", "passwd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := spec.ResolveUser(root, "root"); err == nil {
			t.Error("ResolveUser(root) with a passwd directory succeeded")
		}
		if got, err := spec.ResolveUser(root, "7"); err != nil || got.UID != 7 || got.Home != "/" {
			t.Errorf("ResolveUser(7) = %+v, %v; want uid 7 home /", got, err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		root := fakeRootfs(t, "", "")
		if err := unix.Mkfifo(filepath.Join(root, "etc", "passwd"), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := spec.ResolveUser(root, "root")
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Error("ResolveUser(root) with a FIFO passwd succeeded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ResolveUser blocked on a FIFO etc/passwd")
		}
	})
}
