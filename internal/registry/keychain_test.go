package registry

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/berth-runtime/berth/internal/credentials"
)

func TestKeychainDockerThenPodman(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "run"))
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	resolve := func(ref string) authn.AuthConfig {
		t.Helper()
		r, err := name.NewRepository(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := keychain{}.Resolve(r)
		if err != nil {
			t.Fatal(err)
		}
		c, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		return *c
	}
	if c := resolve("r.example/app"); c != (authn.AuthConfig{}) {
		t.Errorf("no files: %+v", c)
	}
	podman := filepath.Join(dir, "run", "containers", "auth.json")
	os.MkdirAll(filepath.Dir(podman), 0o700)
	os.WriteFile(podman, []byte(`{"auths":{"r.example":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("pod:man"))+`"},`+
		`"r.example/team/app":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("team:app"))+`"}}}`), 0o600)
	if c := resolve("r.example/other"); c.Username != "pod" || c.Password != "man" {
		t.Errorf("podman's file: %+v", c)
	}
	if c := resolve("r.example/team/app"); c.Username != "team" {
		t.Errorf("podman's per-repository entry: %+v", c)
	}
	os.WriteFile(podman, []byte(`{"auths":{"docker.io/team":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("hub:team"))+`"}}}`), 0o600)
	if c := resolve("docker.io/team/app"); c.Username != "hub" {
		t.Errorf("podman's docker.io entry: %+v", c)
	}
	if err := credentials.Store(filepath.Join(dir, "docker", "config.json"), "r.example", credentials.Credential{Username: "dock", Password: "er"}); err != nil {
		t.Fatal(err)
	}
	if c := resolve("r.example/other"); c.Username != "dock" || c.Password != "er" {
		t.Errorf("docker's file first: %+v", c)
	}
	if c := resolve("docker.io/library/alpine"); c != (authn.AuthConfig{}) {
		t.Errorf("another registry: %+v", c)
	}
}
