package credentials

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func TestStoreWritesDockerFormat0600AndKeepsOtherKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "docker")
	path := filepath.Join(dir, "config.json")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	orig := `{"psFormat":"table {{.ID}}","auths":{"other.example":{"auth":"eDp5"}},"proxies":{"default":{"httpProxy":"http://p:3128"}}}`
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Store(path, "127.0.0.1:5000", Credential{Username: "alice", Password: "s3:cr#t"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	v := readJSON(t, path)
	if v["psFormat"] != "table {{.ID}}" || v["proxies"] == nil {
		t.Errorf("other keys lost: %v", v)
	}
	auths := v["auths"].(map[string]any)
	if auths["other.example"].(map[string]any)["auth"] != "eDp5" {
		t.Errorf("other registry's entry changed: %v", auths)
	}
	want := base64.StdEncoding.EncodeToString([]byte("alice:s3:cr#t"))
	if got := auths["127.0.0.1:5000"].(map[string]any)["auth"]; got != want {
		t.Errorf("auth %v, want %s", got, want)
	}
	c, found, err := Lookup(path, "http://127.0.0.1:5000/")
	if err != nil || !found || c.Username != "alice" || c.Password != "s3:cr#t" {
		t.Errorf("lookup: %+v %v %v", c, found, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestStoreCreatesDirAndFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", ".docker", "config.json")
	if err := Store(path, "docker.io", Credential{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dir: %v %v", st, err)
	}
	auths := readJSON(t, path)["auths"].(map[string]any)
	if _, ok := auths[DockerHubKey]; !ok {
		t.Errorf("Docker Hub not under %s: %v", DockerHubKey, auths)
	}
}

func TestStoreReplacesLegacyKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"auths":{"https://reg.example/v2/":{"auth":"b2xkOm9sZA=="}}}`), 0o600)
	if err := Store(path, "reg.example", Credential{Username: "new", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	auths := readJSON(t, path)["auths"].(map[string]any)
	if len(auths) != 1 || auths["reg.example"] == nil {
		t.Errorf("auths %v", auths)
	}
}

func TestEraseRemovesOnlyThatRegistry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	Store(path, "a.example", Credential{Username: "a", Password: "a"})
	Store(path, "b.example", Credential{Username: "b", Password: "b"})
	found, err := Erase(path, "a.example")
	if err != nil || !found {
		t.Fatalf("erase: %v %v", found, err)
	}
	if _, found, _ := Lookup(path, "a.example"); found {
		t.Error("a.example still there")
	}
	if c, found, _ := Lookup(path, "b.example"); !found || c.Username != "b" {
		t.Error("b.example lost")
	}
	st, _ := os.Stat(path)
	before := st.ModTime()
	if found, err := Erase(path, "a.example"); err != nil || found {
		t.Errorf("second erase: %v %v", found, err)
	}
	if st, _ := os.Stat(path); !st.ModTime().Equal(before) {
		t.Error("an erase that found nothing rewrote the file")
	}
	if found, err := Erase(filepath.Join(t.TempDir(), "none.json"), "a.example"); err != nil || found {
		t.Errorf("erase in a missing file: %v %v", found, err)
	}
}

func TestStoreRefusesWithHelperAndLeavesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	orig := []byte(`{"credsStore":"pass"}`)
	os.WriteFile(path, orig, 0o600)
	if err := Store(path, "r.example", Credential{Username: "u", Password: "p"}); !errors.Is(err, ErrHelper) {
		t.Fatalf("store with a credsStore: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(orig) {
		t.Errorf("file changed: %s", b)
	}
}

func TestBadFilesAreErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notjson": `{"auths":`,
		"auths":   `{"auths":[1]}`,
		"base64":  `{"auths":{"r.example":{"auth":"%%%"}}}`,
		"nocolon": `{"auths":{"r.example":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("nocolon")) + `"}}}`,
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(body), 0o600)
		if _, _, err := Lookup(path, "r.example"); err == nil {
			t.Errorf("%s: lookup of %s succeeded", name, body)
		}
	}
}

func TestServerKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                            DockerHubKey,
		"docker.io":                   DockerHubKey,
		"index.docker.io":             DockerHubKey,
		"https://index.docker.io/v1/": DockerHubKey,
		"localhost:5000":              "localhost:5000",
		"https://reg.example:443/v2/": "reg.example:443",
		"http://127.0.0.1:5000":       "127.0.0.1:5000",
	} {
		if got := ServerKey(in); got != want {
			t.Errorf("ServerKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFindLeavesHelpers: a registry Docker's file gives to a credential
// helper is the caller's to ask the helper about, even when podman's file
// has credentials for it; another registry is looked up as usual.
func TestFindLeavesHelpers(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "auth.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"r.example":"secret"}}`), 0o600)
	os.WriteFile(filepath.Join(dir, "auth.json"), []byte(`{"auths":{"r.example":{"auth":"`+
		base64.StdEncoding.EncodeToString([]byte("pod:man"))+`"},"s.example":{"auth":"`+
		base64.StdEncoding.EncodeToString([]byte("s:pw"))+`"}}}`), 0o600)
	if _, helper, found, err := Find("r.example", "r.example/app"); err != nil || !helper || found {
		t.Errorf("r.example: helper %v found %v err %v, want the helper", helper, found, err)
	}
	c, helper, found, err := Find("s.example", "s.example/app")
	if err != nil || helper || !found || c.Username != "s" || c.Password != "pw" {
		t.Errorf("s.example: %+v helper %v found %v err %v", c, helper, found, err)
	}
}
