package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/internal/specjson"
)

// LoadBundle reads an OCI bundle's config.json and makes its root path
// absolute. Unknown properties are ignored, as the runtime spec requires;
// settings berth does not support are rejected by Validate.
func LoadBundle(bundle string) (*specs.Spec, error) {
	dir, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %q: %w", bundle, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, invalid("bundle %s has no config.json: no such file or directory", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read config.json: %w", err)
	}
	var s specs.Spec
	// specjson spares encoding/json's first-use cost (2-3 ms); what it
	// does not take, the decoder takes as before, with its error texts
	// (and its leniency for data after the first value).
	if !specjson.Unmarshal(b, &s) {
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&s); err != nil {
			return nil, invalid("config.json in %s: %s", dir, jsonError(err))
		}
	}
	if err := checkVersion(s.Version); err != nil {
		return nil, err
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, invalid("config.json: root.path is not set")
	}
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(dir, s.Root.Path)
	}
	return &s, nil
}

func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s must be %s, not a JSON %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

// checkVersion accepts the runtime-spec versions whose configs berth
// understands: 1.0 up to the version it was built with.
func checkVersion(v string) error {
	if v == "" {
		return invalid("config.json has no ociVersion")
	}
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	if major != "1" || len(minor) == 0 || minor[0] < '0' || minor[0] > '9' || len(minor) > 1 && minor[1] >= '0' && minor[1] <= '9' || minor > fmt.Sprint(specs.VersionMinor) {
		return invalid("ociVersion %q is not supported: berth runs configs of runtime-spec 1.0 to %s", v, specs.Version)
	}
	return nil
}
