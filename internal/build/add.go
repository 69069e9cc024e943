package build

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
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

// Decompress undoes gzip or bzip2, or passes a plain tar through (a
// context on stdin and ADD's local archives).
func Decompress(r io.Reader) (io.Reader, error) {
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

// downloaded prefixes withSource's "from" of ADD's downloads: the
// directory they are in.
const downloaded = "\x00url:"

// maxDownload bounds what one ADD URL may bring.
const maxDownload = 8 << 30

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// download fetches ADD's URLs into a new directory, each as the last
// element of its path (index.html for none), mode 0600 as Docker has
// them; proxies come from the environment and TLS is verified, as for
// pull. The caller removes the directory.
func (b *builder) download(urls []string) (string, []string, error) {
	dir, err := os.MkdirTemp(filepath.Join(b.e.Root, "build"), "download-")
	if err != nil {
		return "", nil, err
	}
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	var names []string
	for _, u := range urls {
		name, err := fetch(b.ctx, client, u, dir)
		if err != nil {
			return dir, nil, errdefs.New(errdefs.ErrInvalidArgument, "ADD %s: %v", u, err)
		}
		names = append(names, name)
	}
	return dir, names, nil
}

func fetch(ctx context.Context, client *http.Client, u, dir string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	name := path.Base(parsed.Path)
	if name == "/" || name == "." || name == "" {
		name = "index.html"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "berth")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the server answered %s", resp.Status)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxDownload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxDownload {
		err = fmt.Errorf("larger than %d bytes", int64(maxDownload))
	}
	return name, err
}
