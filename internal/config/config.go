// Package config reads berth's host-wide defaults: the file
// /etc/berth/berth.toml and the BERTH_OPTS environment variable. It only
// reads and checks them; the commands apply them.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// DefaultPath is the host-wide configuration file; BERTH_CONFIG names
// another.
const DefaultPath = "/etc/berth/berth.toml"

// Config is berth.toml.
type Config struct {
	Containers Containers `toml:"containers"`
}

// Containers are the defaults of berth run.
type Containers struct {
	// Userns is --userns for containers that do not give one (host,
	// auto[:size=N], keep-id, nomap).
	Userns string `toml:"userns"`
	// CDISpecDirs are where CDI device specs are read (podman's
	// cdi_spec_dirs); default /etc/cdi and /var/run/cdi.
	CDISpecDirs []string `toml:"cdi_spec_dirs"`
}

// Paths are the configuration files that apply, later ones overriding
// earlier ones, as podman's containers.conf: $BERTH_CONFIG alone if set;
// for root, DefaultPath; for a rootless user (rootless), DefaultPath then
// the user's own $XDG_CONFIG_HOME/berth/berth.toml (else
// ~/.config/berth/berth.toml). getenv reads the environment.
func Paths(rootless bool, getenv func(string) string) []string {
	if p := getenv("BERTH_CONFIG"); p != "" {
		return []string{p}
	}
	if !rootless {
		return []string{DefaultPath}
	}
	paths := []string{DefaultPath}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return append(paths, filepath.Join(d, "berth", "berth.toml"))
	}
	if home := getenv("HOME"); home != "" {
		paths = append(paths, filepath.Join(home, ".config", "berth", "berth.toml"))
	}
	return paths
}

// LoadFor reads the configuration that applies (see Paths). For a
// rootless user the host-wide file's [containers] userns is dropped: it
// names a user namespace allocated from berth's ranges in /etc/subuid,
// which a rootless berth, itself in a user namespace of the user's own
// IDs, cannot map; the administrator meant it for root's containers. The
// user's own file, or BERTH_CONFIG, is the user's choice and applies.
func LoadFor(rootless bool, getenv func(string) string) (Config, error) {
	system := DefaultPath
	if getenv("BERTH_CONFIG") != "" {
		system = ""
	}
	return loadFiles(Paths(rootless, getenv), rootless, system)
}

// loadFiles reads paths in order, each setting overriding earlier ones;
// for a rootless user, system's userns is dropped. A user's own file that
// cannot be read for lack of permission counts as absent: $HOME is often
// someone else's (sudo -u keeps root's), and a file there is not the
// user's choice. The host-wide file and BERTH_CONFIG must be readable.
func loadFiles(paths []string, rootless bool, system string) (Config, error) {
	var c Config
	for i, path := range paths {
		f, err := Load(path)
		own := rootless && system != "" && i > 0
		if own && errors.Is(err, os.ErrPermission) {
			continue
		}
		if err != nil {
			return Config{}, err
		}
		if rootless && path == system {
			f.Containers.Userns = ""
		}
		if f.Containers.Userns != "" {
			c.Containers.Userns = f.Containers.Userns
		}
	}
	return c, nil
}

// Path is the configuration file in use: $BERTH_CONFIG, else DefaultPath.
func Path() string {
	if p := os.Getenv("BERTH_CONFIG"); p != "" {
		return p
	}
	return DefaultPath
}

// Load reads the file at path; a missing file is the empty configuration.
// Keys berth does not know are an error, so that a typo does not silently
// leave a default unset.
//
// The TOML decoder is go-toml's: BurntSushi's reads the local time zone
// in its package init, 0.1 ms of every berth command.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	var c Config
	d := toml.NewDecoder(f)
	d.DisallowUnknownFields()
	err = d.Decode(&c)
	var unknown *toml.StrictMissingError
	if errors.As(err, &unknown) {
		keys := make([]string, len(unknown.Errors))
		for i, e := range unknown.Errors {
			keys[i] = strings.Join(e.Key(), ".")
		}
		return Config{}, fmt.Errorf("%s: unknown setting %s: berth knows [containers] userns and cdi_spec_dirs", path, strings.Join(keys, ", "))
	}
	var syntax *toml.DecodeError
	if errors.As(err, &syntax) {
		row, col := syntax.Position()
		return Config{}, fmt.Errorf("%s: line %d, column %d: %s", path, row, col, syntax.Error())
	}
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// UsernsFromOpts is the --userns that opts (BERTH_OPTS: default flags of
// berth run, separated by spaces) gives, "" if none. Flags other than
// --userns are refused: they would be ignored silently.
func UsernsFromOpts(opts string) (string, error) {
	fields := strings.Fields(opts)
	userns := ""
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		switch {
		case strings.HasPrefix(f, "--userns="):
			userns = strings.TrimPrefix(f, "--userns=")
		case f == "--userns" && i+1 < len(fields):
			i++
			userns = fields[i]
		default:
			return "", fmt.Errorf("BERTH_OPTS: %q is not supported: BERTH_OPTS takes --userns=MODE", f)
		}
	}
	return userns, nil
}
