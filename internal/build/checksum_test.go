package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// TestChecksum: ALG:HEX parsed as BuildKit's digest.Parse takes it, the
// sources refused where BuildKit refuses them, a mismatch named in one
// line with both digests.
func TestChecksum(t *testing.T) {
	const helloSHA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" // "hello\n"
	for _, bad := range []string{"md5:abc", "sha256:xyz", "sha256:" + helloSHA[:10], "sha256:" + strings.ToUpper(helloSHA), helloSHA} {
		if _, err := parseChecksum(bad); err == nil {
			t.Errorf("parseChecksum(%q) took it", bad)
		}
	}
	sum, err := parseChecksum("sha256:" + helloSHA)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSources(sum, []string{"https://h/a", "https://h/b"}); err == nil {
		t.Error("two sources taken")
	}
	if err := checkSources(sum, []string{"local.txt"}); err == nil || !strings.Contains(err.Error(), "HTTP(S) sources only") {
		t.Errorf("a local source: %v", err)
	}
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, []byte("hello\n"), 0o600)
	if err := sum.verify("u", f); err != nil {
		t.Errorf("the right digest: %v", err)
	}
	os.WriteFile(f, []byte("bye\n"), 0o600)
	err = sum.verify("u", f)
	if err == nil || !strings.Contains(err.Error(), "expected sha256:"+helloSHA+", got sha256:") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a mismatch: %v", err)
	}
	b := mustParse(t, "FROM x\nADD --checksum=sha512:00 https://h/a /a\nADD https://h/b /b\n")
	if _, err := addChecksum(b.stages[0].Commands[0].(*instructions.AddCommand)); err == nil {
		t.Error("a short sha512 taken")
	}
	if s, err := addChecksum(b.stages[0].Commands[1].(*instructions.AddCommand)); s != nil || err != nil {
		t.Errorf("no --checksum: %v %v", s, err)
	}
}
