package image

import (
	"archive/tar"
	"github.com/berth-runtime/berth/internal/image/imagetest"
	"os"
	"testing"
	"time"
)

func init() { retryDelay = 10 * time.Millisecond }

// ent is one tar entry for mkTar.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
	size             int64 // overrides len(body) in the header when set
	major, minor     int64
	pax              map[string]string
}

func file(name, body string) ent { return ent{name: name, body: body, typ: tar.TypeReg, mode: 0o644} }
func dir(name string) ent        { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, to string) ent {
	return ent{name: name, link: to, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, to string) ent { return ent{name: name, link: to, typ: tar.TypeLink, mode: 0o644} }
func whiteout(name string) ent     { return file(name, "") }

// mkTar builds a tar stream (imagetest.MkTar). An entry with size set
// and no body writes its header only and ends the stream there.
func mkTar(t testing.TB, es ...ent) []byte {
	t.Helper()
	out := make([]imagetest.Ent, len(es))
	for i, e := range es {
		out[i] = imagetest.Ent{Name: e.name, Body: e.body, Link: e.link, Type: e.typ, Mode: e.mode, UID: e.uid,
			Size: e.size, Major: e.major, Minor: e.minor, PAX: e.pax}
	}
	return imagetest.MkTar(t, out...)
}

var (
	gz           = imagetest.Gz
	snapshot     = imagetest.Snapshot
	readDirNames = imagetest.ReadDirNames
)

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
