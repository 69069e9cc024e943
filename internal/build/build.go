// Package build is berth build: a Dockerfile read by BuildKit's parser
// (internal/dockerfile's packages), its stages run step by step through
// berth's own engine. A RUN is a container as berth run makes one, on an
// overlay of the stage's layers; a COPY is extracted into such a
// container's root, never started; each step's changes (the overlay's
// upper directory) become a layer (archive.WriteLayer), and each step's
// result is an image of its own, intermediate: hidden from listings and
// found again by its cache key.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/berth-runtime/berth/internal/buildcache"
	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/registry"
)

// Options are berth build's.
type Options struct {
	// Context is the build context's directory; empty: none (a
	// Dockerfile from standard input).
	Context string
	// Dockerfile is the Dockerfile's text, and DockerfileName how
	// messages name it.
	Dockerfile     []byte
	DockerfileName string
	Tags           []string
	BuildArgs      map[string]string
	Target         string
	NoCache        bool
	// Unlisted leaves an untagged result a hidden step image (--output
	// writes it elsewhere).
	Unlisted bool
	// Secrets are --secret's files by ID, for RUN --mount=type=secret;
	// EnvSecrets those given as env=, their values by ID.
	Secrets    map[string]string
	EnvSecrets map[string]string
	// SSH are --ssh's agents by ID, for RUN --mount=type=ssh: one
	// agent socket, or private key files.
	SSH map[string][]string
	// Pull pulls every FROM image, even one the store has (--pull).
	Pull bool
	// Labels are --label's, set on the image built.
	Labels map[string]string
	// Squash merges the layers the build added on the target stage's
	// base into one (--squash).
	Squash bool
	// Network is RUN's network: bridge (default), none or host.
	Network string
	// Progress receives one line per step and RUN's output; nil: none
	// (-q). RunOutput is the file RUN's output is relayed through.
	Progress io.Writer
}

// Result is the image built.
type Result struct {
	ID string
}

// builder is one build under way.
type builder struct {
	e       *engine.Engine
	store   *image.Store
	o       Options
	ctx     context.Context
	cache   *buildcache.Cache
	ignore  *ignorer
	stages  []instructions.Stage
	meta    map[string]string // global ARGs' values
	mu      sync.Mutex        // results and step, shared by the stages' goroutines
	results map[int]string    // stage index -> image ID
	step    int
	total   int
	agents  *sshAgents // RUN --mount=type=ssh's sockets, shared by the stages
}

// Build builds the image o describes and returns its ID.
func Build(ctx context.Context, e *engine.Engine, o Options) (*Result, error) {
	for _, t := range o.Tags {
		if _, err := image.ParseName(t); err != nil {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid tag %q: %v", t, err)
		}
	}
	stages, metaArgs, err := parse(o.Dockerfile, o.DockerfileName, o.Progress)
	if err != nil {
		return nil, err
	}
	store, err := e.Images()
	if err != nil {
		return nil, err
	}
	if o.Progress != nil {
		o.Progress = &lockedWriter{w: o.Progress}
	}
	b := &builder{e: e, store: store, o: o, ctx: ctx, stages: stages, results: map[int]string{}, agents: &sshAgents{}}
	defer b.agents.close()
	if b.ignore, err = loadIgnore(o.Context); err != nil {
		return nil, err
	}
	b.meta = b.globalArgs(metaArgs)
	target := len(stages) - 1
	if o.Target != "" {
		if target = b.stageIndex(o.Target); target < 0 {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "target stage %q could not be found", o.Target)
		}
	}
	needed := b.needed(target)
	for _, i := range needed {
		b.total += 1 + len(stages[i].Commands)
	}
	if err := b.openCache(); err != nil {
		return nil, err
	}
	defer b.cache.Close()
	if err := b.buildStages(needed); err != nil {
		return nil, err
	}
	id := b.results[target]
	if id == "" {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "%s: the target stage has no instructions: nothing to build", o.DockerfileName)
	}
	if id, err = b.labels(id); err != nil {
		return nil, err
	}
	if o.Squash {
		if id, err = b.squash(target, id); err != nil {
			return nil, err
		}
	}
	if len(o.Tags) > 0 || !o.Unlisted {
		if err := store.Promote(id, o.Tags); err != nil {
			return nil, err
		}
	}
	return &Result{ID: id}, nil
}

// parse reads the Dockerfile with BuildKit's parser: directives (escape;
// syntax is noted and ignored), continuations, heredocs.
func parse(text []byte, name string, progress io.Writer) ([]instructions.Stage, []instructions.ArgCommand, error) {
	res, err := parser.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, nil, syntaxError(name, err)
	}
	if progress != nil && bytes.Contains(text[:min(len(text), 4096)], []byte("syntax=")) {
		fmt.Fprintf(progress, "note: a # syntax= directive is ignored: berth builds with its own Dockerfile frontend\n")
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, nil, syntaxError(name, err)
	}
	if len(stages) == 0 {
		return nil, nil, errdefs.New(errdefs.ErrInvalidArgument, "%s: no FROM instruction: a Dockerfile starts with FROM (after ARGs)", name)
	}
	return stages, metaArgs, nil
}

// syntaxError names the file and line of a parse error, in one line.
func syntaxError(name string, err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if loc, ok := locationOf(err); ok {
		return errdefs.New(errdefs.ErrInvalidArgument, "%s:%d: %s", name, loc, msg)
	}
	return errdefs.New(errdefs.ErrInvalidArgument, "%s: %s", name, msg)
}

func locationOf(err error) (int, bool) {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return le.Locations[0][0].Start.Line, true
	}
	return 0, false
}

// globalArgs are the ARGs before the first FROM, with --build-arg over
// their defaults, and the predefined platform ARGs.
func (b *builder) globalArgs(metaArgs []instructions.ArgCommand) map[string]string {
	m := platformArgs()
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			_ = expandArg(&kv, m)
			if v, ok := b.o.BuildArgs[kv.Key]; ok {
				m[kv.Key] = v
			} else if kv.Value != nil {
				m[kv.Key] = *kv.Value
			} else if _, ok := m[kv.Key]; !ok {
				m[kv.Key] = ""
			}
		}
	}
	return m
}

// platformArgs are BuildKit's predefined platform ARGs: the host's, the
// only platform berth builds for.
func platformArgs() map[string]string {
	arch := runtime.GOARCH
	return map[string]string{
		"TARGETPLATFORM": "linux/" + arch, "TARGETOS": "linux", "TARGETARCH": arch, "TARGETVARIANT": "",
		"BUILDPLATFORM": "linux/" + arch, "BUILDOS": "linux", "BUILDARCH": arch, "BUILDVARIANT": "",
	}
}

// stageIndex is the stage named (or numbered) s, or -1.
func (b *builder) stageIndex(s string) int {
	for i, st := range b.stages {
		if strings.EqualFold(st.Name, s) {
			return i
		}
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s && n >= 0 && n < len(b.stages) {
		return n
	}
	return -1
}

// needed lists the stages target depends on (FROM a stage, COPY
// --from=stage, RUN --mount=from=stage), target last, each once, in
// order: others are skipped.
func (b *builder) needed(target int) []int {
	seen := map[int]bool{}
	var order []int
	var visit func(i int)
	visit = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		for _, j := range b.stageDeps(i) {
			visit(j)
		}
		order = append(order, i)
	}
	visit(target)
	return order
}

// expandMeta expands global ARGs in FROM's image name.
func (b *builder) expandMeta(s string) string {
	env := make([]string, 0, len(b.meta))
	for k, v := range b.meta {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	out, err := expandWord(s, env)
	if err != nil {
		return s
	}
	return out
}

// progressf writes a progress line unless quiet.
func (b *builder) progressf(format string, a ...any) {
	if b.o.Progress != nil {
		fmt.Fprintf(b.o.Progress, format, a...)
	}
}

// baseImage resolves FROM's name: scratch (""), an earlier stage's
// result, or an image in the store, pulled if missing.
func (b *builder) baseImage(name string, self int) (string, error) {
	if name == "scratch" {
		return "", nil
	}
	if j := b.stageIndex(name); j >= 0 && j < self {
		return b.result(j), nil
	}
	img, err := b.store.Get(name)
	if err == nil && !b.o.Pull {
		return img.ID, nil
	}
	if err != nil && !errorsIsNotFound(err) {
		return "", err
	}
	b.progressf("pulling %s\n", name)
	img, err = registry.Pull(b.ctx, b.store, name, registry.PullOptions{})
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// baseConfig is an image's runtime config ("": scratch's).
func (b *builder) baseConfig(id string) (v1.Config, error) {
	return b.store.BaseConfig(id)
}

var now = func() time.Time { return time.Now().UTC() }

// devNull is the standard input of RUN steps.
func devNull() (*os.File, error) { return os.Open(os.DevNull) }

// labels sets --label's labels on the image built, as a LABEL step at
// the end of the target stage would.
func (b *builder) labels(id string) (string, error) {
	if len(b.o.Labels) == 0 {
		return id, nil
	}
	cfg, err := b.baseConfig(id)
	if err != nil {
		return "", err
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	var kv []string
	for k, v := range b.o.Labels {
		cfg.Labels[k] = v
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	st := &stageState{image: id, cfg: cfg}
	text := "LABEL " + strings.Join(kv, " ")
	if _, err := b.commit(st, cacheKey(id, "label-flag", text), cfg, nil, text, true); err != nil {
		return "", err
	}
	return st.image, nil
}
