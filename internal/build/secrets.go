package build

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// maxSecretSize bounds a secret given as an environment variable's value,
// as BuildKit's (500 KB).
const maxSecretSize = 500 << 10

// secretID is a secret mount's ID, as BuildKit takes it: source, else
// id, else the target's base name.
func secretID(m *instructions.Mount) string {
	switch {
	case m.Source != "":
		return m.Source
	case m.CacheID != "":
		return m.CacheID
	}
	return path.Base(m.Target)
}

// secretAsFile says whether a secret mount is a file (its target, or
// /run/secrets/ID): not when it names env= alone, as BuildKit.
func secretAsFile(m *instructions.Mount) bool {
	return m.Env == nil || m.Target != ""
}

// secretFile is the host file a secret mount binds: --secret's src, or,
// for one given as env=, its value written to a file of its own (mode
// 0400) in the run root (a tmpfs where it is /run; a file, which the
// collection of stale container state passes over), removed when the
// step ends (stepDone).
func (b *builder) secretFile(st *stageState, id string) (string, bool, error) {
	if src, ok := b.o.Secrets[id]; ok {
		return src, true, nil
	}
	v, ok := b.o.EnvSecrets[id]
	if !ok {
		return "", false, nil
	}
	if err := os.MkdirAll(b.e.Runroot, 0o700); err != nil {
		return "", false, fmt.Errorf("secret %s: %w", id, err)
	}
	f, err := os.CreateTemp(b.e.Runroot, ".build-secret-")
	if err != nil {
		return "", false, fmt.Errorf("secret %s: %w", id, err)
	}
	name := f.Name()
	st.afterStep = append(st.afterStep, func() { _ = os.Remove(name) })
	if err = f.Chmod(0o400); err == nil {
		_, err = io.WriteString(f, v)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("secret %s: %w", id, err)
	}
	return f.Name(), true, nil
}

// secretValue is a secret's contents: --secret's file read, or its env=
// value.
func (b *builder) secretValue(id string) (string, bool, error) {
	if v, ok := b.o.EnvSecrets[id]; ok {
		return v, true, nil
	}
	src, ok := b.o.Secrets[id]
	if !ok {
		return "", false, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return "", false, fmt.Errorf("secret %s: %w", id, err)
	}
	defer f.Close()
	v, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
	if err != nil {
		return "", false, fmt.Errorf("secret %s: %w", id, err)
	}
	if len(v) > maxSecretSize {
		return "", false, errdefs.New(errdefs.ErrInvalidArgument, "secret %s: %s is larger than %d bytes, too large for an environment variable", id, filepath.Base(src), maxSecretSize)
	}
	return string(v), true, nil
}

// secretEnv is RUN --mount=type=secret,env=NAME's environment for this
// RUN alone (NAME=value; NAME the ID when empty), and what of it belongs
// in the cache key: the names, never the values, as BuildKit. A secret not
// given is skipped, or refused when required.
func (b *builder) secretEnv(c *instructions.RunCommand) ([]string, string, error) {
	var env, keys []string
	for _, m := range instructions.GetMounts(c) {
		if m.Type != instructions.MountTypeSecret || m.Env == nil {
			continue
		}
		id := secretID(m)
		name := *m.Env
		if name == "" {
			name = id
		}
		v, ok, err := b.secretValue(id)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			if m.Required {
				return nil, "", missingSecret(id)
			}
			continue
		}
		env = append(env, name+"="+v)
		keys = append(keys, "secret-env "+name+" "+id)
	}
	if len(keys) == 0 {
		return nil, "", nil
	}
	k, _ := json.Marshal(keys)
	return env, string(k), nil
}

func missingSecret(id string) error {
	return errdefs.New(errdefs.ErrInvalidArgument, "secret %q is required: give it with --secret id=%s,src=FILE or --secret id=%s,env=VAR", id, id, id)
}
