package volume

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: owners, whiteouts and trusted xattrs")
	}
}

// tree describes a directory: path → "dir", "link:TARGET" or file content.
func writeTree(t *testing.T, root string, entries map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := filepath.Join(root, k)
		os.MkdirAll(filepath.Dir(p), 0o755)
		v := entries[k]
		var err error
		switch {
		case v == "dir":
			err = os.MkdirAll(p, 0o755)
		case v == "whiteout":
			err = unix.Mknod(p, unix.S_IFCHR, 0)
		case v == "opaque":
			if err = os.MkdirAll(p, 0o755); err == nil {
				err = unix.Setxattr(p, "trusted.overlay.opaque", []byte("y"), 0)
			}
		case strings.HasPrefix(v, "link:"):
			err = os.Symlink(strings.TrimPrefix(v, "link:"), p)
		default:
			err = os.WriteFile(p, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.IsDir():
			out[rel] = "dir"
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link:" + target
		case fi.Mode()&os.ModeNamedPipe != 0:
			out[rel] = "fifo"
		default:
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

func TestCopyUpPlainRootfs(t *testing.T) {
	needRoot(t)
	root, dst := t.TempDir(), t.TempDir()
	writeTree(t, root, map[string]string{
		"var/lib/app/conf":       "c",
		"var/lib/app/sub/f":      "f",
		"var/lib/app/link":       "link:/etc/shadow",
		"var/lib/app/empty":      "dir",
		"var/lib/other":          "not copied",
		"etc/secret":             "s",
		"escape":                 "link:/etc",
		"var/lib/viasymlink":     "link:../../etc",
		"var/lib/app/sub/nested": "n",
	})
	app := filepath.Join(root, "var/lib/app")
	os.Chown(app, 1000, 1001)
	os.Chmod(app, 0o750)
	os.Chown(filepath.Join(app, "conf"), 7, 8)
	unix.Chmod(filepath.Join(app, "conf"), 0o4711)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(app, "conf"), old, old)
	unix.Mkfifo(filepath.Join(app, "fifo"), 0o640)

	if err := CopyUp([]string{root}, "/var/lib/app/", dst); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"conf": "c", "sub": "dir", "sub/f": "f", "sub/nested": "n", "link": "link:/etc/shadow", "empty": "dir", "fifo": "fifo",
	}
	if got := readTree(t, dst); !reflect.DeepEqual(got, want) {
		t.Errorf("copied %q, want %q", got, want)
	}
	var st unix.Stat_t
	unix.Stat(dst, &st)
	if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o750 {
		t.Errorf("volume root owner %d:%d mode %o, want 1000:1001 750", st.Uid, st.Gid, st.Mode&0o7777)
	}
	unix.Stat(filepath.Join(dst, "conf"), &st)
	if st.Uid != 7 || st.Gid != 8 || st.Mode&0o7777 != 0o4711 || st.Mtim.Sec != old.Unix() {
		t.Errorf("conf owner %d:%d mode %o mtime %d", st.Uid, st.Gid, st.Mode&0o7777, st.Mtim.Sec)
	}
	unix.Lstat(filepath.Join(dst, "fifo"), &st)
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo copied as mode %o", st.Mode)
	}

	// Missing, a file, or through a symlink: nothing copied.
	for _, target := range []string{"/nope", "/var/lib/other", "/escape", "/var/lib/viasymlink/secret", "/var/lib/viasymlink"} {
		empty := t.TempDir()
		if err := CopyUp([]string{root}, target, empty); err != nil {
			t.Errorf("CopyUp %s: %v", target, err)
		}
		if got := readTree(t, empty); len(got) != 0 {
			t.Errorf("CopyUp %s copied %q", target, got)
		}
	}
}

func TestCopyUpLayers(t *testing.T) {
	needRoot(t)
	top, mid, bottom := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, bottom, map[string]string{
		"data/a":          "bottom a",
		"data/b":          "bottom b",
		"data/gone":       "hidden by a whiteout",
		"data/opq/old":    "hidden by opaque",
		"data/dir/x":      "bottom x",
		"data/wasfile":    "file below a dir",
		"other/data/nope": "n",
		"link":            "link:/etc",
	})
	writeTree(t, mid, map[string]string{
		"data/b":         "mid b",
		"data/gone":      "whiteout",
		"data/opq":       "opaque",
		"data/opq/new":   "new",
		"data/dir/y":     "mid y",
		"data/wasfile/z": "z",
	})
	writeTree(t, top, map[string]string{
		"data/c": "top c",
	})
	dst := t.TempDir()
	if err := CopyUp([]string{top, mid, bottom}, "/data", dst); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a": "bottom a", "b": "mid b", "c": "top c", "opq": "dir", "opq/new": "new",
		"dir": "dir", "dir/x": "bottom x", "dir/y": "mid y", "wasfile": "dir", "wasfile/z": "z",
	}
	if got := readTree(t, dst); !reflect.DeepEqual(got, want) {
		t.Errorf("copied %q, want %q", got, want)
	}

	// A directory deleted by an upper layer, or made opaque above it.
	deleted := t.TempDir()
	writeTree(t, deleted, map[string]string{"data": "whiteout"})
	empty := t.TempDir()
	CopyUp([]string{deleted, bottom}, "/data", empty)
	if got := readTree(t, empty); len(got) != 0 {
		t.Errorf("whited-out directory copied: %q", got)
	}
	opaqueRoot := t.TempDir()
	writeTree(t, opaqueRoot, map[string]string{"other": "opaque"})
	CopyUp([]string{opaqueRoot, bottom}, "/other/data", empty)
	if got := readTree(t, empty); len(got) != 0 {
		t.Errorf("directory under an opaque one copied: %q", got)
	}
	// A symlink in an upper layer: not followed, even to a lower
	// layer's directory.
	linked := t.TempDir()
	writeTree(t, linked, map[string]string{"data": "link:other/data"})
	CopyUp([]string{linked, bottom}, "/data", empty)
	if got := readTree(t, empty); len(got) != 0 {
		t.Errorf("symlinked directory copied: %q", got)
	}
}
