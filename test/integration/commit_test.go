package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// imageBlobs lists the image store's blobs and unpacked layers, to show
// that a refused commit or build stored nothing.
func imageBlobs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"blobs/sha256/*", "layers/*", "tmp/*"} {
		m, _ := filepath.Glob(filepath.Join(storeRoot, "images", pat))
		m2, _ := filepath.Glob(filepath.Join(storeRoot, pat))
		out = append(append(out, m...), m2...)
	}
	slices.Sort(out)
	return out
}

func imageConfig(t *testing.T, ref string) map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal([]byte(mustBerth(t, "image", "inspect", ref)), &v); err != nil || len(v) != 1 {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return v[0]
}

// TestCommit: a running container's new file and deletion become a
// layer, --change sets CMD and ENV, and the new image runs with them; a
// stopped container commits too.
func TestCommit(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	img := cpImage(t)
	cpRun(t, "commit-src", img)
	mustBerth(t, "exec", "commit-src", "sh", "-c", "echo committed > /x && rm /bin/ls && mkdir -p /d/e && echo f > /d/e/f")
	out := mustBerth(t, "commit", "-a", "me <me@x>", "-m", "first", "-c", `CMD ["cat","/x"]`, "-c", "ENV A=1", "commit-src", "committed:1")
	t.Cleanup(func() { berth(t, "", "rmi", "-f", "committed:1", "committed:2") })
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("commit printed %q, want the image ID", out)
	}
	if got := mustBerth(t, "run", "--rm", "--network", "none", "committed:1"); got != "committed\n" {
		t.Errorf("the image's CMD printed %q", got)
	}
	got := mustBerth(t, "run", "--rm", "--network", "none", "committed:1", "sh", "-c", `echo A=$A; cat /d/e/f; ls /bin/ls 2>&1; ls /bin/sh`)
	if !strings.Contains(got, "A=1\nf\n") || !strings.Contains(got, "No such file") || !strings.Contains(got, "/bin/sh") {
		t.Errorf("in the committed image:\n%s", got)
	}
	if s := mustBerth(t, "ps", "--filter", "name=commit-src", "--format", "{{.Status}}"); !strings.HasPrefix(s, "Up") || strings.Contains(s, "Paused") {
		t.Errorf("the container is not running unpaused after commit: %q", s)
	}
	hist := mustBerth(t, "history", "--no-trunc", "committed:1")
	if !strings.Contains(hist, "first") {
		t.Errorf("history lacks the commit message:\n%s", hist)
	}
	// Stopped: its changes are still there.
	mustBerth(t, "stop", "-t", "1", "commit-src")
	mustBerth(t, "commit", "--pause=false", "commit-src", "committed:2")
	if got := mustBerth(t, "run", "--rm", "--network", "none", "committed:2", "cat", "/x"); got != "committed\n" {
		t.Errorf("commit of a stopped container: %q", got)
	}
}

// TestCommitBadInput: one line, exit 125, and nothing stored.
func TestCommitBadInput(t *testing.T) {
	hostSuiteOnly(t)
	needRoot(t)
	img := cpImage(t)
	cpRun(t, "commit-bad", img)
	mustBerth(t, "exec", "commit-bad", "sh", "-c", "echo x > /x")
	before := imageBlobs(t)
	for _, c := range []struct {
		args []string
		text string
	}{
		{[]string{"commit", "-c", "RUN echo", "commit-bad"}, "RUN is not a valid change command"},
		{[]string{"commit", "-c", "EXPOSE 99999", "commit-bad"}, "EXPOSE"},
		{[]string{"commit", "commit-bad", "Bad:Name:x"}, "invalid reference format"},
		{[]string{"commit", "nosuch"}, "no such container"},
	} {
		r := berth(t, "", c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.text) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: %+v, want one line with %q", c.args, r, c.text)
		}
		if c.text != "no such container" && r.code != 125 {
			t.Errorf("%v: exit %d, want 125", c.args, r.code)
		}
	}
	if after := imageBlobs(t); !slices.Equal(before, after) {
		t.Errorf("refused commits stored:\nbefore %v\nafter  %v", before, after)
	}
	_ = os.Remove
}
