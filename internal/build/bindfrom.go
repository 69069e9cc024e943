package build

import (
	"errors"
	"os"
	"path"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
)

// RUN --mount=type=bind,from=STAGE|IMAGE binds another stage's or image's
// file system: the root of a container of that image, never started,
// mounted at a directory of its own under <root>/build/ and its source
// path (resolved inside it) bound at the target, read-only unless rw; what
// the RUN writes there lands in that container's writable layer and goes
// with it. It is mounted only once the RUN is known not to be cached, and
// undone when the RUN ends (stepDone).

// bindFrom is such a bind still to mount.
type bindFrom struct {
	dest, from, image, source string
}

// bindFromMount resolves the bind's source image (a stage's result, or an
// image, pulled if missing) and gives its request, whose source
// mountBindFroms sets, and its key: the source's image ID, path and rw.
func (b *builder) bindFromMount(st *stageState, m *instructions.Mount, target string) (spec.MountRequest, string, error) {
	id, err := b.bindSource(m.From, st.index)
	if err != nil {
		return spec.MountRequest{}, "", err
	}
	src := path.Clean("/" + m.Source)
	st.bindFroms = append(st.bindFroms, bindFrom{dest: target, from: m.From, image: id, source: src})
	key := "from " + id + " " + src + " rw=" + strconv.FormatBool(!m.ReadOnly)
	return spec.MountRequest{Type: spec.MountBind, Destination: target, ReadOnly: m.ReadOnly}, key, nil
}

// bindSource is the image a from= names: an earlier stage's result, else
// an image.
func (b *builder) bindSource(from string, self int) (string, error) {
	id := ""
	if j := b.stageIndex(from); j >= 0 && j < self {
		id = b.result(j)
	} else {
		var err error
		if id, err = b.baseImage(from, self); err != nil {
			return "", err
		}
	}
	if id == "" {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "RUN --mount=type=bind,from=%s: that stage is empty (FROM scratch, nothing added)", from)
	}
	return id, nil
}

// mountBindFroms mounts the RUN's binds from stages and images and sets
// their sources in mounts.
func (b *builder) mountBindFroms(st *stageState, mounts []spec.MountRequest) error {
	pending := st.bindFroms
	st.bindFroms = nil
	for _, p := range pending {
		src, err := b.mountSourceRoot(st, p)
		if err != nil {
			return err
		}
		for i := range mounts {
			if mounts[i].Destination == p.dest && mounts[i].Source == "" {
				mounts[i].Source = src
			}
		}
	}
	return nil
}

// mountSourceRoot mounts the root of a container of p's image and
// returns p's source path in it.
func (b *builder) mountSourceRoot(st *stageState, p bindFrom) (string, error) {
	step, err := b.e.NewStep(p.image, managed.Config{NetworkMode: "none"})
	if err != nil {
		return "", err
	}
	st.afterStep = append(st.afterStep, func() { _ = step.Remove() })
	dir, unmount, err := step.MountRoot()
	if errors.Is(err, unix.EPERM) {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "RUN --mount=type=bind,from=%s: mounting the source's root is not permitted here: copy what the RUN needs with COPY --from=%s instead", p.from, p.from)
	}
	if err != nil {
		return "", err
	}
	st.afterStep = append(st.afterStep, unmount)
	src, err := securejoin.SecureJoin(dir, p.source)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(src); err != nil {
		return "", errdefs.New(errdefs.ErrNotFound, "RUN --mount=type=bind,from=%s: %q not found in %s", p.from, strings.TrimPrefix(p.source, "/"), p.from)
	}
	return src, nil
}

// stepDone undoes what the RUN's mounts needed, last first.
func (b *builder) stepDone(st *stageState) {
	for i := len(st.afterStep) - 1; i >= 0; i-- {
		st.afterStep[i]()
	}
	st.afterStep, st.bindFroms = nil, nil
}

// stageRefs are the stages (or images) a command reads besides its
// stage's base: COPY --from's, RUN --mount from='s.
func stageRefs(c instructions.Command) []string {
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			return []string{c.From}
		}
	case *instructions.RunCommand:
		var refs []string
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				refs = append(refs, m.From)
			}
		}
		return refs
	}
	return nil
}
