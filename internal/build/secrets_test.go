package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// TestSecretEnv: env= gives the secret (a variable's or a file's) as the
// RUN's variable, named by the ID when empty, a file only with a target
// too; the key has names, never values; a required one missing is one
// line.
func TestSecretEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("from-file"), 0o600)
	b := mustParse(t, "FROM x\n"+
		"RUN --mount=type=secret,id=a,env=A --mount=type=secret,id=f,env= --mount=type=secret,id=gone,env=G --mount=type=secret,source=a,target=/s,env=B true\n"+
		"RUN --mount=type=secret,id=gone,env=G,required true\n")
	b.o.Secrets = map[string]string{"f": file}
	b.o.EnvSecrets = map[string]string{"a": "from-env"}
	run := b.stages[0].Commands[0].(*instructions.RunCommand)
	if err := instructionsExpand(run); err != nil {
		t.Fatal(err)
	}
	env, key, err := b.secretEnv(run)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A=from-env", "f=from-file", "B=from-env"}; !slices.Equal(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
	if strings.Contains(key, "from-") || !strings.Contains(key, "secret-env A a") {
		t.Errorf("key %s", key)
	}
	var asFile []bool
	for _, m := range instructions.GetMounts(run) {
		asFile = append(asFile, secretAsFile(m))
	}
	if !slices.Equal(asFile, []bool{false, false, false, true}) {
		t.Errorf("as files: %v", asFile)
	}
	req := b.stages[0].Commands[1].(*instructions.RunCommand)
	instructionsExpand(req)
	if _, _, err := b.secretEnv(req); err == nil || !strings.Contains(err.Error(), `secret "gone" is required`) {
		t.Errorf("a required secret missing: %v", err)
	}
}

// instructionsExpand parses a RUN's --mount flags as the build does.
func instructionsExpand(c *instructions.RunCommand) error {
	return c.Expand(func(w string) (string, error) { return w, nil })
}
