package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/berth-runtime/berth/internal/health"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Config is what the runtime needs from an image's configuration.
type Config struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string // KEY=value
	WorkingDir   string
	User         string
	ExposedPorts []string // "80/tcp", sorted
	StopSignal   string
	Labels       map[string]string
	OS           string
	Architecture string
	Variant      string
	// Healthcheck is the image's HEALTHCHECK; nil: none.
	Healthcheck *health.Config
}

// Config returns the configuration of the image ref resolves to.
func (s *Store) Config(ref string) (*Config, error) {
	img, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	cf, err := s.configFile(img.ID)
	if err != nil {
		return nil, err
	}
	c := &Config{
		Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, Env: cf.Config.Env,
		WorkingDir: cf.Config.WorkingDir, User: cf.Config.User,
		StopSignal: cf.Config.StopSignal, Labels: cf.Config.Labels,
		OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant,
	}
	for p := range cf.Config.ExposedPorts {
		c.ExposedPorts = append(c.ExposedPorts, p)
	}
	sort.Strings(c.ExposedPorts)
	if cf.Config.Healthcheck != nil {
		if c.Healthcheck, err = s.healthcheck(img.ID); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// healthcheck is the image's HEALTHCHECK, read from its config again
// for the one field go-containerregistry does not know (StartInterval):
// only images that have one pay for it.
func (s *Store) healthcheck(id string) (*health.Config, error) {
	h, err := v1.NewHash(id)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	b, err := os.ReadFile(s.blobPath(h.Hex))
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", id, err)
	}
	hc, err := parseHealthcheck(b)
	if err != nil {
		return nil, fmt.Errorf("parse config of image %s: %w", id, err)
	}
	return hc, nil
}

// parseHealthcheck is the Healthcheck of an image config's JSON.
func parseHealthcheck(b []byte) (*health.Config, error) {
	var cf struct {
		Config struct{ Healthcheck *health.Config } `json:"config"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, err
	}
	return cf.Config.Healthcheck, nil
}

// configFile reads and parses the stored config blob of image id.
func (s *Store) configFile(id string) (*v1.ConfigFile, error) {
	h, err := v1.NewHash(id)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	b, err := os.ReadFile(s.blobPath(h.Hex))
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", id, err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse config of image %s: %w", id, err)
	}
	return cf, nil
}
