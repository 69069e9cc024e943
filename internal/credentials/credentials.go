// Package credentials keeps registry credentials where Docker keeps them,
// so that berth login and docker login share them: the "auths" map of
// $DOCKER_CONFIG/config.json (else ~/.docker/config.json), each entry's
// "auth" the base64 of user:password. It reads podman's auth.json too
// (same format) when Docker's file has no entry, and leaves credential
// helpers (credsStore, credHelpers) to its caller (internal/registry
// hands them to go-containerregistry's keychain, which runs them). It
// writes only Docker's file: 0600, replaced by rename, every key it does
// not own kept as it was.
//
// The package knows nothing of registries' protocol, and links none of
// go-containerregistry: berth login checks the credentials
// (internal/registry, in berth-registry) before calling Store.
package credentials

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DockerHubKey is the key Docker files Docker Hub's credentials under,
// for historical reasons.
const DockerHubKey = "https://index.docker.io/v1/"

// DockerConfigPath is Docker's client config file:
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func DockerConfigPath() (string, error) {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find docker's config file: %w (set DOCKER_CONFIG)", err)
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// PodmanAuthPaths are the files podman, skopeo and buildah keep
// credentials in, in the order they look: $REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers/auth.json, then
// $XDG_CONFIG_HOME/containers/auth.json (~/.config by default).
func PodmanAuthPaths() []string {
	var ps []string
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		ps = append(ps, p)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		ps = append(ps, filepath.Join(d, "containers", "auth.json"))
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cfg = filepath.Join(home, ".config")
		}
	}
	if cfg != "" {
		ps = append(ps, filepath.Join(cfg, "containers", "auth.json"))
	}
	return ps
}

// ServerKey is the key a registry's credentials are filed under, as
// docker login writes it: Docker Hub's historical URL, else the host[:port]
// alone (a scheme or path given is dropped).
func ServerKey(server string) string {
	h := hostOf(server)
	switch h {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		return DockerHubKey
	}
	return h
}

// hostOf drops a scheme and a path: https://example.com/v1/ is example.com.
func hostOf(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Credential is one registry's entry.
type Credential struct {
	Username, Password string
	// IdentityToken is an OAuth refresh token some registries return.
	IdentityToken string
}

// entry is one element of "auths", as Docker and podman write it.
type entry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// file is a config file: every top-level key kept raw, so that a rewrite
// changes only "auths".
type file struct {
	path  string
	top   map[string]json.RawMessage
	auths map[string]json.RawMessage
}

// readFile reads path; a missing file is an empty one.
func readFile(path string) (*file, error) {
	f := &file{path: path, top: map[string]json.RawMessage{}, auths: map[string]json.RawMessage{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(b, &f.top); err != nil {
		return nil, fmt.Errorf("read credentials: %s is not valid JSON: %w", path, err)
	}
	if raw, ok := f.top["auths"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &f.auths); err != nil {
			return nil, fmt.Errorf("read credentials: %s: \"auths\" is not an object: %w", path, err)
		}
	}
	return f, nil
}

// find returns the key of server's entry: the key as filed, else one whose
// host is server's (docker login once kept https:// URLs).
func (f *file) find(server string) (string, bool) {
	key := ServerKey(server)
	if _, ok := f.auths[key]; ok {
		return key, true
	}
	for k := range f.auths {
		if !repositoryScoped(k) && ServerKey(k) == key {
			return k, true
		}
	}
	return "", false
}

// repositoryScoped reports whether a key names a repository or namespace
// (podman's registry/namespace keys) rather than a whole registry: it has
// a path and no scheme (docker's https://host/v1/ URLs name registries).
func repositoryScoped(key string) bool {
	return !strings.Contains(key, "://") && strings.Contains(key, "/")
}

// lookup returns the credential filed under key.
func (f *file) lookup(key string) (Credential, error) {
	var e entry
	if err := json.Unmarshal(f.auths[key], &e); err != nil {
		return Credential{}, fmt.Errorf("read credentials: %s: entry %q: %w", f.path, key, err)
	}
	c := Credential{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
	if e.Auth != "" {
		b, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return Credential{}, fmt.Errorf("read credentials: %s: entry %q: \"auth\" is not base64: %w", f.path, key, err)
		}
		user, pass, ok := strings.Cut(string(b), ":")
		if !ok {
			return Credential{}, fmt.Errorf("read credentials: %s: entry %q: \"auth\" is not user:password", f.path, key)
		}
		c.Username, c.Password = user, pass
	}
	return c, nil
}

// helpers reports whether the file sends server's credentials to a
// credential helper (credsStore for all, credHelpers per registry).
func (f *file) helpers(server string) bool {
	var store string
	if raw, ok := f.top["credsStore"]; ok && json.Unmarshal(raw, &store) == nil && store != "" {
		return true
	}
	var per map[string]string
	if raw, ok := f.top["credHelpers"]; ok && json.Unmarshal(raw, &per) == nil {
		for k := range per {
			if ServerKey(k) == ServerKey(server) {
				return true
			}
		}
	}
	return false
}

// write replaces the file: a temporary file of mode 0600 beside it,
// synced, then renamed over it. A symlinked config file (dotfiles) is
// written where it points, as docker login does.
func (f *file) write() error {
	auths, err := json.Marshal(f.auths)
	if err != nil {
		return err
	}
	f.top["auths"] = auths
	b, err := json.MarshalIndent(f.top, "", "\t")
	if err != nil {
		return err
	}
	path := f.path
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("store credentials in %s: %w", path, err)
	}
	return nil
}

// ErrHelper means the config file hands the registry's credentials to a
// credential helper, which berth does not run to store them.
var ErrHelper = errors.New("credentials are kept by a credential helper")

// Store files user and password for server in the config file at path,
// replacing what was there. It refuses when the file names a credential
// helper for server: docker login would store there, and credentials
// written into the file would be shadowed by the helper's.
func Store(path, server string, c Credential) error {
	f, err := readFile(path)
	if err != nil {
		return err
	}
	if f.helpers(server) {
		return fmt.Errorf("%w: %s sets credsStore or credHelpers for %s; log in with docker login, or remove the helper from the file", ErrHelper, path, ServerKey(server))
	}
	e := entry{IdentityToken: c.IdentityToken}
	if c.Username != "" || c.Password != "" {
		e.Auth = base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if k, ok := f.find(server); ok {
		delete(f.auths, k)
	}
	f.auths[ServerKey(server)] = raw
	return f.write()
}

// Erase removes server's credentials from the config file at path;
// found is false when there were none (the file is then left alone).
func Erase(path, server string) (found bool, err error) {
	f, err := readFile(path)
	if err != nil {
		return false, err
	}
	for {
		k, ok := f.find(server)
		if !ok {
			break
		}
		delete(f.auths, k)
		found = true
	}
	if !found {
		return false, nil
	}
	return true, f.write()
}

// Lookup returns server's credentials from the config file at path.
func Lookup(path, server string) (c Credential, found bool, err error) {
	f, err := readFile(path)
	if err != nil {
		return Credential{}, false, err
	}
	k, ok := f.find(server)
	if !ok {
		return Credential{}, false, nil
	}
	c, err = f.lookup(k)
	return c, err == nil, err
}

// findRepository is the key of podman's entry for repository or the
// nearest of its parents: podman also files credentials per repository,
// and the longest match wins, as it does. (podman writes docker.io where
// the registry protocol says index.docker.io.)
func (f *file) findRepository(repository string) (string, bool) {
	for p := strings.Replace(repository, "index.docker.io/", "docker.io/", 1); ; {
		if _, ok := f.auths[p]; ok {
			return p, true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return "", false
		}
		p = p[:i]
	}
}

// Find finds the credentials for repository (its full name as the
// registry protocol has it, index.docker.io/library/alpine) on server
// (index.docker.io): Docker's file first, then podman's files. helper
// means Docker's file leaves the registry to a credential helper, which
// the caller runs (go-containerregistry's keychain does). found is false,
// with no error, when no file has credentials for it.
func Find(server, repository string) (c Credential, helper, found bool, err error) {
	if path, err := DockerConfigPath(); err == nil {
		f, err := readFile(path)
		if err != nil {
			return Credential{}, false, false, err
		}
		if f.helpers(server) {
			return Credential{}, true, false, nil
		}
		if k, ok := f.find(server); ok {
			c, err := f.lookup(k)
			return c, false, err == nil, err
		}
	}
	for _, path := range PodmanAuthPaths() {
		f, err := readFile(path)
		if err != nil {
			return Credential{}, false, false, err
		}
		k, ok := f.findRepository(repository)
		if !ok {
			k, ok = f.find(server)
		}
		if ok {
			c, err := f.lookup(k)
			return c, false, err == nil, err
		}
	}
	return Credential{}, false, false, nil
}
