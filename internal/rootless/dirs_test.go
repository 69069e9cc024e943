package rootless

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserDirs(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	owned := func(dir string) bool { return dir == "/run/user/1000" }
	cases := []struct {
		name      string
		vars      map[string]string
		dirOwned  func(string) bool
		want      Dirs
		wantError bool
	}{
		{"xdg", map[string]string{"XDG_DATA_HOME": "/d", "XDG_RUNTIME_DIR": "/r", "HOME": "/h"}, owned,
			Dirs{Data: "/d/berth", Run: "/r/berth"}, false},
		{"home and /run/user", map[string]string{"HOME": "/h"}, owned,
			Dirs{Data: "/h/.local/share/berth", Run: "/run/user/1000/berth"}, false},
		{"relative XDG ignored", map[string]string{"HOME": "/h", "XDG_DATA_HOME": "d", "XDG_RUNTIME_DIR": "r"}, owned,
			Dirs{Data: "/h/.local/share/berth", Run: "/run/user/1000/berth"}, false},
		{"no /run/user: TMPDIR", map[string]string{"HOME": "/h"}, func(string) bool { return false },
			Dirs{Data: "/h/.local/share/berth", Run: "/t/berth-run-1000/berth", RunParent: "/t/berth-run-1000"}, false},
		{"nothing", map[string]string{}, owned, Dirs{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := UserDirs(Environment{UID: 1000, Getenv: env(c.vars), DirOwned: c.dirOwned, TempDir: "/t"})
			if (err != nil) != c.wantError {
				t.Fatalf("error %v, want error %v", err, c.wantError)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseSubIDs(t *testing.T) {
	const file = `# comment
alice:100000:65536
bob:165536:65536
1000:300000:10
alice:400000:0
alice:x:5
alice:4294967290:100
alice:500000:1000:extra

alice:600000:1
`
	got := ParseSubIDs(strings.NewReader(file), "alice", 1000)
	want := []IDRange{{100000, 65536}, {300000, 10}, {600000, 1}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("range %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if r := ParseSubIDs(strings.NewReader(file), "carol", 1001); r != nil {
		t.Errorf("carol: got %v, want none", r)
	}
	args := strings.Join(mapArgs(1000, want), " ")
	if args != "0 1000 1 1 100000 65536 65537 300000 10 65547 600000 1" {
		t.Errorf("map arguments %q", args)
	}
}

func TestParseStage(t *testing.T) {
	stage, uid, gid, err := parseStage("in:1000:1001")
	if err != nil || stage != "in" || uid != 1000 || gid != 1001 {
		t.Errorf("got %q %d %d %v", stage, uid, gid, err)
	}
	for _, bad := range []string{"", "in", "in:1:", "in:x:1", "a:b:c:d"} {
		if _, _, _, err := parseStage(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if !isIdentityMap("         0          0 4294967295\n") || isIdentityMap("0 1000 1\n1 100000 65536\n") {
		t.Error("isIdentityMap")
	}
}

// TestPrepareRefusesForeignDir: a state directory fallback another user
// made first (to read or plant container state) is refused.
func TestPrepareRefusesForeignDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory of another user")
	}
	parent := filepath.Join(t.TempDir(), "berth-run-1000")
	d := Dirs{Run: filepath.Join(parent, "berth"), RunParent: parent}
	if err := Prepare(d); err != nil {
		t.Fatalf("fresh: %v", err)
	}
	if err := os.Chown(parent, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(d); err == nil {
		t.Error("a directory of another user was accepted")
	}
	os.Chown(parent, 0, 0)
	os.Chmod(parent, 0o755)
	if err := Prepare(d); err == nil {
		t.Error("a directory others can read was accepted")
	}
}
