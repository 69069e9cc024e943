package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseSecrets: --secret as buildx takes it: src= a file, env= (or
// type=env) a variable's value, neither: the variable named by the ID if
// set, else the file; a variable unset is one line.
func TestParseSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	os.WriteFile(file, []byte("f"), 0o600)
	t.Setenv("I14A_TOKEN", "from-env")
	t.Setenv("i14aid", "by-id")
	t.Chdir(dir)
	files, env, err := parseSecrets([]string{"id=a,src=" + file, "id=b,env=I14A_TOKEN", "id=c,type=env,src=I14A_TOKEN", "id=i14aid", "id=tok"})
	if err != nil {
		t.Fatal(err)
	}
	if files["a"] != file || files["tok"] != file || len(files) != 2 {
		t.Errorf("files: %v", files)
	}
	if env["b"] != "from-env" || env["c"] != "from-env" || env["i14aid"] != "by-id" || len(env) != 3 {
		t.Errorf("env: %v", env)
	}
	for _, bad := range []string{"id=x,env=I14A_UNSET", "id=x,src=" + file + ",env=I14A_TOKEN", "id=x,type=ssh", "id=x,bogus=1", "id=x,src=/nonexistent"} {
		if _, _, err := parseSecrets([]string{bad}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
