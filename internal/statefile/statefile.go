// Package statefile writes the JSON state files that berth's allocators
// keep beside their lock (the network address pools, the user namespace
// ranges): the file is replaced atomically, so a reader, or the next
// command after a SIGKILL, sees the old state or the new one, never a mix.
package statefile

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// WriteJSON replaces dir/name with v as indented JSON, mode 0600. The
// temporary file has a fixed name (.NAME.tmp), which the caller's lock
// makes safe: a killed writer leaves at most one stray file, which the
// next write overwrites.
func WriteJSON(dir, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, TempName(name))
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// TempName is the name of name's temporary file while it is written.
func TempName(name string) string { return "." + name + ".tmp" }
