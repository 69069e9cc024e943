package spec_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
	"golang.org/x/sys/unix"
)

func TestImageCommand(t *testing.T) {
	img := &spec.ImageConfig{Entrypoint: []string{"/entry", "-x"}, Cmd: []string{"serve", "--port", "80"}}
	for _, tt := range []struct {
		name       string
		args       []string
		entrypoint *string
		want       []string
	}{
		{"image defaults", nil, nil, []string{"/entry", "-x", "serve", "--port", "80"}},
		{"args replace Cmd", []string{"check"}, nil, []string{"/entry", "-x", "check"}},
		{"--entrypoint replaces both", nil, ptr("/bin/sh"), []string{"/bin/sh"}},
		{"--entrypoint and args", []string{"-c", "id"}, ptr("/bin/sh"), []string{"/bin/sh", "-c", "id"}},
		{"--entrypoint '' and args", []string{"/bin/echo", "hi"}, ptr(""), []string{"/bin/echo", "hi"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := runOpts(t)
			o.Args, o.Image = tt.args, img
			if tt.entrypoint != nil {
				o.Entrypoint, o.EntrypointSet = *tt.entrypoint, true
			}
			s := mustFromRunOptions(t, o)
			if !reflect.DeepEqual(s.Process.Args, tt.want) {
				t.Errorf("args %q, want %q", s.Process.Args, tt.want)
			}
		})
	}
	o := runOpts(t)
	o.Args, o.Image = nil, &spec.ImageConfig{}
	if _, err := spec.FromRunOptions(o); err == nil || !strings.Contains(err.Error(), "the image has no Cmd or Entrypoint") {
		t.Errorf("image without a command: %v", err)
	}
}

func ptr(s string) *string { return &s }

func TestImageEnvWorkdirUser(t *testing.T) {
	o := runOpts(t)
	writeIn(t, o.Rootfs, "etc/passwd", "root:x:0:0::/root:/bin/sh\nweb:x:33:33::/srv:/bin/sh\n")
	o.Image = &spec.ImageConfig{Env: []string{"PATH=/opt/bin:/usr/bin", "MODE=image", "KEEP=1"}, WorkingDir: "/srv/www", User: "web"}
	o.Env = []string{"MODE=flag"}
	s := mustFromRunOptions(t, o)
	env := strings.Join(s.Process.Env, " ")
	for _, want := range []string{"PATH=/opt/bin:/usr/bin", "MODE=flag", "KEEP=1", "HOME=/srv"} {
		if !strings.Contains(env, want) {
			t.Errorf("env %q lacks %s", env, want)
		}
	}
	if s.Process.Cwd != "/srv/www" || s.Process.User.UID != 33 || s.Process.User.GID != 33 {
		t.Errorf("cwd %q user %+v", s.Process.Cwd, s.Process.User)
	}
	o.Workdir, o.User = "/tmp", "0"
	s = mustFromRunOptions(t, o)
	if s.Process.Cwd != "/tmp" || s.Process.User.UID != 0 {
		t.Errorf("flags do not override the image: cwd %q user %+v", s.Process.Cwd, s.Process.User)
	}
}

// TestUserInLayers: users are looked up through an image's layers, top
// first; a whiteout hides a lower layer's file.
func TestUserInLayers(t *testing.T) {
	top, mid, bottom := t.TempDir(), t.TempDir(), t.TempDir()
	writeIn(t, bottom, "etc/passwd", "root:x:0:0::/root:/bin/sh\nold:x:7:7::/old:/bin/sh\n")
	writeIn(t, mid, "etc/passwd", "root:x:0:0::/root:/bin/sh\nnew:x:8:8::/new:/bin/sh\n")
	writeIn(t, bottom, "etc/group", "root:x:0:\nstaff:x:50:new\n")
	o := runOpts(t)
	o.UserRoots = []string{top, mid, bottom}
	o.User = "new"
	s := mustFromRunOptions(t, o)
	if s.Process.User.UID != 8 || !reflect.DeepEqual(s.Process.User.AdditionalGids, []uint32{50}) {
		t.Errorf("user new: %+v", s.Process.User)
	}
	o.User = "old"
	if _, err := spec.FromRunOptions(o); err == nil {
		t.Error("a user from a file hidden by an upper layer was found")
	}
	// A whiteout of etc/passwd in the top layer hides every passwd.
	if err := os.MkdirAll(filepath.Join(top, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(top, "etc/passwd"), unix.S_IFCHR, 0); err != nil {
		t.Skipf("mknod whiteout: %v", err)
	}
	o.User = "new"
	if _, err := spec.FromRunOptions(o); err == nil {
		t.Error("a whited-out passwd was read")
	}
}

func writeIn(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
