package build

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/errdefs"
)

// isArchive says whether p in root is a tar archive ADD extracts: gzip
// or bzip2 compressed (by magic number), or a plain tar (ustar at 257).
func isArchive(root archive.Root, p string) bool {
	head, err := root.ReadHead(p, 512)
	if err != nil {
		return false
	}
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}), bytes.HasPrefix(head, []byte("BZh")):
		return true
	}
	return len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

// decompress undoes gzip or bzip2, or passes a plain tar through.
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	}
	return br, nil
}

// lookupChown resolves a --chown with names (USER[:GROUP], either part
// a name or a number) in the stage's /etc/passwd and /etc/group, read
// inside its root. A lone user's GID is its UID, as Docker has it.
func lookupChown(root archive.Root, spec string) (*[2]int, error) {
	u, g, hasG := strings.Cut(spec, ":")
	uid, err := lookupID(root, "/etc/passwd", u)
	if err != nil {
		return nil, err
	}
	gid := uid
	if hasG {
		if gid, err = lookupID(root, "/etc/group", g); err != nil {
			return nil, err
		}
	}
	return &[2]int{uid, gid}, nil
}

func lookupID(root archive.Root, file, name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	b, err := root.ReadHead(file, 4<<20)
	if err != nil {
		return 0, errdefs.New(errdefs.ErrInvalidArgument, "--chown: cannot look up %q: the stage has no %s", name, file)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			if id, err := strconv.Atoi(f[2]); err == nil && id >= 0 {
				return id, nil
			}
		}
	}
	return 0, errdefs.New(errdefs.ErrInvalidArgument, "--chown: no %q in the stage's %s", name, file)
}
