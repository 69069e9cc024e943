package build

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/dockerfile"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
)

// copySpec is a COPY resolved: what to copy from where, to where, as whom.
type copySpec struct {
	src       archive.Root
	context   bool     // src is the build context (.dockerignore applies)
	items     []string // paths in src
	dirs      []bool   // whether each item is a directory
	dest      string   // absolute, in the stage
	destIsDir bool
	owner     *[2]int // --chown; nil: root for the context, as is from a stage
	mode      *int64  // --chmod
	ig        *ignorer
}

// copy runs a COPY step: its sources as a tar stream (hashed first, for
// the cache key) extracted into a container's root of the stage's image,
// whose changes become the layer.
func (b *builder) copy(st *stageState, c *instructions.CopyCommand) (bool, error) {
	if len(c.SourceContents) > 0 {
		return false, errdefs.New(errdefs.ErrInvalidArgument, "COPY of a heredoc is not supported by berth build yet")
	}
	if err := dockerfile.Expand(c, st.env()); err != nil {
		return false, err
	}
	cs := &copySpec{ig: b.ignore}
	var err error
	if cs.owner, err = parseChown(c.Chown); err != nil {
		return false, err
	}
	if cs.mode, err = parseChmod(c.Chmod); err != nil {
		return false, err
	}
	var cached bool
	err = b.withSource(c.From, st.index, func(src archive.Root, srcID string) error {
		cs.src, cs.context = src, c.From == ""
		if err := b.resolveSources(cs, c.SourcePaths); err != nil {
			return err
		}
		cs.dest = dockerfile.Workdir(st.cfg.WorkingDir, c.DestPath)
		cs.destIsDir = strings.HasSuffix(c.DestPath, "/") || len(cs.items) > 1 || (len(cs.items) == 1 && cs.dirs[0])
		h := sha256.New()
		if err := cs.stream(h, true); err != nil {
			return err
		}
		key := cacheKey(st.image, "copy", srcID, cs.dest, strconv.FormatBool(cs.destIsDir), c.Chown, c.Chmod, fmt.Sprintf("%x", h.Sum(nil)))
		if !b.o.NoCache {
			if id, ok := b.cache.get(key); ok {
				if _, err := b.store.Get(id); err == nil {
					st.image, cached = id, true
					return nil
				}
			}
		}
		return b.copyLayer(st, cs, key, commandText(c))
	})
	return cached, err
}

// withSource runs fn on COPY's source root: the context, or --from's
// stage or image (a container's root, never started).
func (b *builder) withSource(from string, self int, fn func(archive.Root, string) error) error {
	if from == "" {
		if b.o.Context == "" {
			return errdefs.New(errdefs.ErrInvalidArgument, "COPY needs a build context: a Dockerfile from standard input (berth build -) has none")
		}
		f, err := os.OpenFile(b.o.Context, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the build context: %w", err)
		}
		defer f.Close()
		return fn(archive.Root{F: f, Contained: true}, "context")
	}
	var id string
	if j := b.stageIndex(from); j >= 0 && j < self {
		id = b.results[j]
	} else {
		var err error
		if id, err = b.baseImage(from, self); err != nil {
			return err
		}
	}
	if id == "" {
		return errdefs.New(errdefs.ErrInvalidArgument, "COPY --from=%s: that stage is empty (FROM scratch, nothing added)", from)
	}
	step, err := b.e.NewStep(id, managed.Config{NetworkMode: "none"})
	if err != nil {
		return err
	}
	defer func() { _ = step.Remove() }()
	return step.WithRoot(func(root archive.Root) error { return fn(root, id) })
}

// resolveSources expands COPY's sources: wildcards in the context, each
// one that must exist named relative to the context when it does not.
func (b *builder) resolveSources(cs *copySpec, srcs []string) error {
	for _, s := range srcs {
		rel := path.Clean("/" + filepath.ToSlash(s))
		matches := []string{rel}
		if cs.context && strings.ContainsAny(s, "*?[") {
			found, err := filepath.Glob(filepath.Join(b.o.Context, rel))
			if err != nil {
				return errdefs.New(errdefs.ErrInvalidArgument, "COPY %s: %v", s, err)
			}
			matches = matches[:0]
			for _, f := range found {
				r, _ := filepath.Rel(b.o.Context, f)
				if !b.ignore.ignored(r) {
					matches = append(matches, "/"+filepath.ToSlash(r))
				}
			}
		}
		if len(matches) == 0 {
			return errdefs.New(errdefs.ErrNotFound, "COPY failed: no source files were specified by %q in the build context", s)
		}
		for _, m := range matches {
			info, err := cs.src.Stat(m, true)
			if err != nil {
				return err
			}
			if !info.Exists || (cs.context && b.ignore.ignored(strings.TrimPrefix(m, "/"))) {
				where := "the build context"
				if !cs.context {
					where = "the --from source"
				}
				return errdefs.New(errdefs.ErrNotFound, "COPY failed: %q not found in %s", strings.TrimPrefix(m, "/"), where)
			}
			cs.items = append(cs.items, m)
			cs.dirs = append(cs.dirs, info.Dir)
		}
	}
	return nil
}

// stream writes the sources as they land in the stage: a tar stream
// named from the root, or, when hash is set, each entry's name, type,
// mode, owner, link and content (not its times) for the cache key.
func (cs *copySpec) stream(w io.Writer, hash bool) error {
	var tw *tar.Writer
	if !hash {
		tw = tar.NewWriter(w)
	}
	for i, item := range cs.items {
		name := strings.TrimPrefix(cs.dest, "/")
		if !cs.dirs[i] && cs.destIsDir {
			name = path.Join(name, path.Base(item))
		}
		if err := cs.entries(item, name, func(hdr *tar.Header, r io.Reader) error {
			if hash {
				fmt.Fprintf(w, "%s %c %o %d:%d %s %d\n", hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Linkname, hdr.Size)
				_, err := io.Copy(w, r)
				return err
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err := io.Copy(tw, r)
			return err
		}); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Close()
	}
	return nil
}

// entries reads item from the source as a tar stream named name, leaves
// out what .dockerignore names, sets owners and modes as COPY does, and
// hands each entry to fn.
func (cs *copySpec) entries(item, name string, fn func(*tar.Header, io.Reader) error) error {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.Write(pw, cs.src, item, name, archive.WriteOptions{Follow: true}))
	}()
	defer pr.Close()
	tr := tar.NewReader(pr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", item, err)
		}
		if cs.context && cs.ignore(item, name, hdr.Name) {
			continue
		}
		cs.adjust(hdr)
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
}

// ignore says whether an entry of item (written under name) is one the
// context's .dockerignore leaves out.
func (cs *copySpec) ignore(item, name, entry string) bool {
	rest := strings.TrimPrefix(strings.TrimSuffix(entry, "/"), name)
	rel := strings.TrimPrefix(path.Join(item, rest), "/")
	return cs.ig.ignored(rel)
}

// adjust gives an entry COPY's owner and mode: --chown's, else root for
// the context's files; --chmod's mode, type bits kept.
func (cs *copySpec) adjust(hdr *tar.Header) {
	switch {
	case cs.owner != nil:
		hdr.Uid, hdr.Gid = cs.owner[0], cs.owner[1]
	case cs.context:
		hdr.Uid, hdr.Gid = 0, 0
	}
	hdr.Uname, hdr.Gname = "", ""
	if cs.mode != nil && hdr.Typeflag != tar.TypeSymlink {
		hdr.Mode = *cs.mode
	}
}

// copyLayer extracts the sources into a root of the stage's image and
// makes the step's image of its changes.
func (b *builder) copyLayer(st *stageState, cs *copySpec, key, text string) error {
	release, err := b.store.Hold()
	if err != nil {
		return err
	}
	layer, err := b.extractLayer(st, cs)
	if err != nil {
		release()
		if layer.Digest != "" {
			b.store.DiscardLayers([]image.Layer{layer})
		}
		return err
	}
	_, err = b.commitHeld(st, key, st.cfg, layer, text, release)
	return err
}

func (b *builder) extractLayer(st *stageState, cs *copySpec) (image.Layer, error) {
	if st.image == "" {
		return b.scratchLayer(cs)
	}
	step, err := b.e.NewStep(st.image, managed.Config{NetworkMode: "none"})
	if err != nil {
		return image.Layer{}, err
	}
	defer func() { _ = step.Remove() }()
	if err := step.WithRoot(func(root archive.Root) error { return cs.extract(root) }); err != nil {
		return image.Layer{}, err
	}
	return step.Layer(nil)
}

// scratchLayer is a COPY onto scratch: extracted into an empty directory,
// all of which is the layer.
func (b *builder) scratchLayer(cs *copySpec) (image.Layer, error) {
	tmp, err := os.MkdirTemp(filepath.Join(b.e.Root, "build"), "scratch-")
	if err != nil {
		return image.Layer{}, err
	}
	defer os.RemoveAll(tmp)
	f, err := os.OpenFile(tmp, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return image.Layer{}, err
	}
	defer f.Close()
	if err := cs.extract(archive.Root{F: f, Contained: true}); err != nil {
		return image.Layer{}, err
	}
	changes, err := archive.Diff(tmp, nil)
	if err != nil {
		return image.Layer{}, err
	}
	return b.store.StoreLayer(func(w io.Writer) error {
		return archive.WriteLayer(w, tmp, changes, archive.LayerOptions{})
	})
}

// extract writes the sources into root: first the destination's missing
// parents (root's, or --chown's), then the entries, one tar stream (the
// parents' writer is flushed, not closed: no end-of-archive between).
func (cs *copySpec) extract(root archive.Root) error {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := cs.parents(root, tw)
		if err == nil {
			err = tw.Flush()
		}
		if err == nil {
			err = cs.stream(pw, false)
		}
		pw.CloseWithError(err)
	}()
	err := archive.Extract(pr, root, "/", archive.ExtractOptions{KeepOwners: true})
	pr.CloseWithError(err)
	return err
}

func (cs *copySpec) parents(root archive.Root, tw *tar.Writer) error {
	dir := cs.dest
	if !cs.destIsDir {
		dir = path.Dir(dir)
	}
	uid, gid := 0, 0
	if cs.owner != nil {
		uid, gid = cs.owner[0], cs.owner[1]
	}
	p := ""
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		p = path.Join(p, part)
		info, err := root.Stat("/"+p, true)
		if err != nil {
			return err
		}
		if info.Exists {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: uid, Gid: gid, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	return nil
}

// parseChown takes --chown=UID[:GID] (numeric: names are looked up in
// the stage's /etc/passwd by no code yet).
func parseChown(s string) (*[2]int, error) {
	if s == "" {
		return nil, nil
	}
	u, g, hasG := strings.Cut(s, ":")
	uid, err := strconv.Atoi(u)
	if err != nil || uid < 0 {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "--chown=%s: berth build takes numeric IDs only so far (UID[:GID])", s)
	}
	gid := uid
	if hasG {
		if gid, err = strconv.Atoi(g); err != nil || gid < 0 {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "--chown=%s: berth build takes numeric IDs only so far (UID[:GID])", s)
		}
	}
	return &[2]int{uid, gid}, nil
}

// parseChmod takes --chmod=OCTAL.
func parseChmod(s string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	m, err := strconv.ParseInt(s, 8, 32)
	if err != nil || m > 0o7777 || m < 0 {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "--chmod=%s: want an octal mode such as 0755", s)
	}
	return &m, nil
}
