package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// cache maps a step's key to the image it made: <root>/build/cache.json,
// read once per build and replaced by rename after each new step, so a
// build that dies keeps what it finished. Two builds at once may each
// drop the other's new entries: those steps run again next time.
type cache struct {
	mu      sync.Mutex
	path    string
	Entries map[string]string `json:"entries"`
}

func openCache(root string) (*cache, error) {
	dir := filepath.Join(root, "build")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	c := &cache{path: filepath.Join(dir, "cache.json"), Entries: map[string]string{}}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err == nil {
		err = json.Unmarshal(b, c)
	}
	if err != nil || c.Entries == nil {
		c.Entries = map[string]string{} // a damaged cache is an empty one
	}
	return c, nil
}

func (c *cache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.Entries[key]
	return id, ok
}

func (c *cache) put(key, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Entries[key] = id
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	tmp := c.path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, c.path)
	}
}

// PruneCache forgets every cached step (berth builder prune); the
// intermediate images go with the next image prune.
func PruneCache(root string) error {
	err := os.Remove(filepath.Join(root, "build", "cache.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
