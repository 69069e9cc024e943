package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabelsAnnotations: -l and --label-file are shown by inspect and
// filtered on by ps; --annotation reaches the container's OCI config.
func TestLabelsAnnotations(t *testing.T) {
	needRoot(t)
	file := filepath.Join(t.TempDir(), "labels")
	os.WriteFile(file, []byte("# team labels\ntier=db\nowner=ops\n"), 0o644)
	r := berth(t, "", "run", "-d", "--name", "labelled", "--network", "none", "-l", "tier=web", "--label", "flag", "--label-file", file,
		"--annotation", "org.example.note=hello", "--rootfs", rootfsDir, "/bin/sh", "-c", idle)
	if r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	id := strings.TrimSpace(r.stdout)
	defer berth(t, "", "rm", "-f", "labelled")
	var info []struct {
		Config struct{ Labels map[string]string }
	}
	r = berth(t, "", "inspect", "labelled")
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || len(info) != 1 {
		t.Fatalf("inspect: %v %+v", err, r)
	}
	want := map[string]string{"tier": "web", "owner": "ops", "flag": ""}
	if l := info[0].Config.Labels; len(l) != len(want) || l["tier"] != "web" || l["owner"] != "ops" || l["flag"] != "" {
		t.Errorf("Config.Labels %v, want %v", l, want)
	}
	for filter, shown := range map[string]bool{"tier=web": true, "tier": true, "flag": true, "tier=db": false, "nope": false} {
		out := berth(t, "", "ps", "-q", "--filter", "label="+filter).stdout
		if strings.Contains(out, id[:12]) != shown {
			t.Errorf("ps --filter label=%s: %q", filter, out)
		}
	}
	eventually(t, "the stored spec", func() string {
		b, err := os.ReadFile(filepath.Join(storeRoot, "containers", id, "spec.json"))
		if err != nil {
			return err.Error()
		}
		var s struct{ Annotations map[string]string }
		if json.Unmarshal(b, &s) != nil || s.Annotations["org.example.note"] != "hello" {
			return string(b)
		}
		return ""
	})
}
