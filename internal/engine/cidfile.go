package engine

import (
	"errors"
	"fmt"
	"os"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// CIDFile is docker run's --cidfile: made before the container, so that
// one that exists is refused with nothing made, and holding the
// container's ID once it has one.
type CIDFile struct {
	path    string
	f       *os.File
	written bool
}

// CreateCIDFile makes the file with O_EXCL, as Docker: an existing one
// (another container's, perhaps still running) is not overwritten.
func CreateCIDFile(path string) (*CIDFile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, errdefs.New(errdefs.ErrAlreadyExists, "container ID file found, make sure the other container isn't running or delete %s", path)
	}
	if err != nil {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "--cidfile: %v", err)
	}
	return &CIDFile{path: path, f: f}, nil
}

// Write stores the container's ID.
func (c *CIDFile) Write(id string) error {
	if c == nil {
		return nil
	}
	if _, err := c.f.WriteString(id); err != nil {
		return fmt.Errorf("write --cidfile %s: %w", c.path, err)
	}
	c.written = true
	return c.f.Close()
}

// Discard removes the file when the container was not made after all
// (or was removed again without having run): nothing is left behind.
func (c *CIDFile) Discard() {
	if c == nil {
		return
	}
	_ = c.f.Close()
	_ = os.Remove(c.path)
}
