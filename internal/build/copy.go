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
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/dockerfile"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/gitsrc"
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
	// chownName is a --chown by name, looked up in the stage's
	// /etc/passwd and /etc/group when the files land.
	chownName string
	// archives marks the items ADD extracts.
	archives []bool
	// contents are heredoc sources: files written as given.
	contents []instructions.SourceContent
}

// inlineOnly is withSource's "from" of a COPY of heredocs alone.
const inlineOnly = "\x00inline"

// copyArgs are a COPY's or ADD's, expanded.
type copyArgs struct {
	sd                 instructions.SourcesAndDest
	from, chown, chmod string
	add                bool // ADD: local tar archives are extracted
	link               bool // --link: a layer independent of the stage's
	text               string
}

// copy runs a COPY step.
func (b *builder) copy(st *stageState, c *instructions.CopyCommand) (bool, error) {
	if err := dockerfile.Expand(c, st.env()); err != nil {
		return false, err
	}
	if err := expandRaw(c, st.env()); err != nil {
		return false, err
	}
	return b.copyFiles(st, copyArgs{sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod, link: c.Link, text: commandText(c)})
}

// add runs an ADD step: COPY's, and a local tar archive (plain, gzip or
// bzip2) is extracted at the destination; URLs are downloaded and git
// repositories checked out (addGit).
func (b *builder) add(st *stageState, c *instructions.AddCommand) (bool, error) {
	if err := dockerfile.Expand(c, st.env()); err != nil {
		return false, err
	}
	if err := expandRaw(c, st.env()); err != nil {
		return false, err
	}
	urls, gits := 0, 0
	for _, s := range c.SourcePaths {
		switch {
		case gitsrc.IsSource(s):
			gits++
		case isURL(s):
			urls++
		}
	}
	sum, err := addChecksum(c)
	if err != nil {
		return false, err
	}
	a := copyArgs{sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, add: true, link: c.Link, text: commandText(c)}
	switch {
	case gits > 0 && gits != len(c.SourcePaths):
		return false, errdefs.New(errdefs.ErrInvalidArgument, "ADD mixes git repositories and other sources: give them in ADDs of their own")
	case gits > 0:
		return b.addGit(st, c, a)
	case urls == 0:
		return b.copyFiles(st, a)
	case urls != len(c.SourcePaths):
		return false, errdefs.New(errdefs.ErrInvalidArgument, "ADD mixes URLs and local files: give them in ADDs of their own")
	}
	dir, names, err := b.download(c.SourcePaths)
	defer os.RemoveAll(dir)
	if err != nil {
		return false, err
	}
	if sum != nil {
		if err := sum.verify(c.SourcePaths[0], filepath.Join(dir, names[0])); err != nil {
			return false, err
		}
	}
	a.sd.SourcePaths, a.from, a.add = names, downloaded+dir, false
	return b.copyFiles(st, a)
}

// copyFiles runs a COPY or ADD: its sources as a tar stream (hashed
// first, for the cache key) extracted into a container's root of the
// stage's image, whose changes become the layer.
func (b *builder) copyFiles(st *stageState, a copyArgs) (bool, error) {
	cs := &copySpec{ig: b.ignore}
	var err error
	if cs.owner, err = parseChown(a.chown); err != nil {
		cs.chownName = a.chown // looked up in the stage's files
	}
	if cs.mode, err = parseChmod(a.chmod); err != nil {
		return false, err
	}
	var cached bool
	from := a.from
	if len(a.sd.SourcePaths) == 0 {
		from = inlineOnly // heredocs alone: no context needed
	}
	cs.contents = a.sd.SourceContents
	if a.link {
		if err := b.linkOwner(st, cs); err != nil {
			return false, err
		}
	}
	err = b.withSource(from, st.index, func(src archive.Root, srcID string) error {
		cs.src, cs.context = src, a.from == "" || strings.HasPrefix(a.from, downloaded)
		if strings.HasPrefix(a.from, downloaded) {
			cs.ig = &ignorer{} // .dockerignore is about the context alone
		}
		if err := b.resolveSources(cs, a.sd.SourcePaths, a.add); err != nil {
			return err
		}
		cs.dest = dockerfile.Workdir(st.cfg.WorkingDir, a.sd.DestPath)
		n := len(cs.items) + len(cs.contents)
		cs.destIsDir = strings.HasSuffix(a.sd.DestPath, "/") || n > 1 || (len(cs.items) == 1 && (cs.dirs[0] || cs.archives[0]))
		h := sha256.New()
		if err := cs.stream(h, true); err != nil {
			return err
		}
		if a.link {
			cached, err = b.linkCopy(st, cs, linkKey(srcID, cs, a.chmod, a.add, fmt.Sprintf("%x", h.Sum(nil))), a.text)
			return err
		}
		key := cacheKey(st.image, "copy", srcID, cs.dest, strconv.FormatBool(cs.destIsDir), a.chown, a.chmod, strconv.FormatBool(a.add), fmt.Sprintf("%x", h.Sum(nil)))
		id, ok, err := b.cached(key)
		if err != nil || ok {
			if ok {
				st.image, cached = id, true
			}
			return err
		}
		return b.copyLayer(st, cs, key, a.text)
	})
	return cached, err
}

// withSource runs fn on COPY's source root: the context, or --from's
// stage or image (a container's root, never started).
func (b *builder) withSource(from string, self int, fn func(archive.Root, string) error) error {
	if from == inlineOnly {
		return fn(archive.Root{}, "inline")
	}
	if dir, ok := strings.CutPrefix(from, downloaded); ok {
		f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		return fn(archive.Root{F: f, Contained: true}, "url")
	}
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
		id = b.result(j)
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
func (b *builder) resolveSources(cs *copySpec, srcs []string, add bool) error {
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
			cs.archives = append(cs.archives, add && !info.Dir && isArchive(cs.src, m))
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
		emit := func(hdr *tar.Header, r io.Reader) error {
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
		}
		if cs.archives[i] {
			name = strings.TrimPrefix(cs.dest, "/")
		}
		if err := cs.entries(item, name, cs.archives[i], emit); err != nil {
			return err
		}
	}
	for _, c := range cs.contents {
		name := strings.TrimPrefix(cs.dest, "/")
		if cs.destIsDir {
			name = path.Join(name, path.Clean("/" + c.Path)[1:])
		}
		hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(c.Data)), Format: tar.FormatPAX}
		cs.adjust(hdr)
		if hash {
			fmt.Fprintf(w, "%s %c %o %d:%d %d\n%s", hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Size, c.Data)
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, c.Data); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Close()
	}
	return nil
}

// expandRaw expands a heredoc's contents (unquoted delimiter) as
// BuildKit does: variables, quotes kept.
func expandRaw(c instructions.Command, env []string) error {
	ex, ok := c.(instructions.SupportsSingleWordExpansionRaw)
	if !ok {
		return nil
	}
	lex := shell.NewLex('\\')
	lex.SkipProcessQuotes = true
	getter := shell.EnvsFromSlice(env)
	return ex.ExpandRaw(func(w string) (string, error) {
		r, _, err := lex.ProcessWord(w, getter)
		return r, err
	})
}

// entries reads item from the source as a tar stream named name, leaves
// out what .dockerignore names, sets owners and modes as COPY does, and
// hands each entry to fn.
func (cs *copySpec) entries(item, name string, unpack bool, fn func(*tar.Header, io.Reader) error) error {
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
		if unpack && hdr.Typeflag == tar.TypeReg {
			if err := cs.unpack(tr, name, fn); err != nil {
				return fmt.Errorf("ADD %s: %w", item, err)
			}
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

// unpack hands on the entries of an ADD's tar archive (plain, gzip or
// bzip2) r, under dest: their owners as the archive has them unless
// --chown, their names kept beneath dest.
func (cs *copySpec) unpack(r io.Reader, dest string, fn func(*tar.Header, io.Reader) error) error {
	dr, err := Decompress(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(dr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if rel == "" {
			continue
		}
		hdr.Name = path.Join(dest, rel)
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = path.Join(dest, strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"))
		}
		if cs.owner != nil {
			hdr.Uid, hdr.Gid = cs.owner[0], cs.owner[1]
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
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
	release, err := b.hold()
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

// resolveOwner looks a --chown by name up in root, the stage's.
func (cs *copySpec) resolveOwner(root archive.Root) error {
	if cs.chownName == "" {
		return nil
	}
	o, err := lookupChown(root, cs.chownName)
	if err != nil {
		return err
	}
	cs.owner = o
	return nil
}

// extract writes the sources into root: first the destination's missing
// parents (root's, or --chown's), then the entries, one tar stream (the
// parents' writer is flushed, not closed: no end-of-archive between).
func (cs *copySpec) extract(root archive.Root) error {
	if err := cs.resolveOwner(root); err != nil {
		return err
	}
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
