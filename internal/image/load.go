package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Load adds the images of an archive read from r, as docker load: a
// docker save archive or an OCI layout tar, plain or compressed. The
// stream is spooled to tmp/ (an archive is read in place, by offsets),
// at most Limits.ImageBytes of it, then imported as LoadFile does.
func (s *Store) Load(ctx context.Context, r io.Reader, o ImportOptions) ([]*Image, error) {
	imgs, err := s.load(ctx, r, o)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	s.imagesEvent("load", imgs)
	return imgs, nil
}

func (s *Store) load(ctx context.Context, r io.Reader, o ImportOptions) ([]*Image, error) {
	// Held so that no Open collects the spool file as a dead one.
	l, err := s.lockShared()
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	f, err := os.CreateTemp(s.path("tmp"), "load-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, &capReader{r: contextReader{ctx, r}, b: newBudget(s.Limits.ImageBytes)}); err != nil {
		if errors.Is(err, ErrLimit) {
			return nil, overLimit("the archive is larger than berth's limit of %s for an image (image.MaxImageBytes)", sizeString(s.Limits.ImageBytes))
		}
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	o.ArchiveOnly = true
	return s.importPath(ctx, f.Name(), o)
}

// LoadFile adds the images of the archive at path, as docker load -i:
// unlike Import, a root filesystem tarball is refused (that is import's).
func (s *Store) LoadFile(ctx context.Context, path string, o ImportOptions) ([]*Image, error) {
	o.ArchiveOnly = true
	imgs, err := s.importPath(ctx, path, o)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	s.imagesEvent("load", imgs)
	return imgs, nil
}

// contextReader stops reading once ctx is done (ctrl-c on a stalled pipe
// is seen at the next read).
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
