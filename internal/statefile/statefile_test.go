package statefile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteJSONReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	for _, want := range []int{1, 2} {
		if err := WriteJSON(dir, "s.json", map[string]int{"n": want}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "s.json"))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]int
		if err := json.Unmarshal(b, &got); err != nil || got["n"] != want {
			t.Fatalf("state %q (%v), want n=%d", b, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, TempName("s.json"))); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, "s.json"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
}

func TestWriteJSONMissingDir(t *testing.T) {
	if err := WriteJSON(filepath.Join(t.TempDir(), "gone"), "s.json", 1); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
