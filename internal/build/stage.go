package build

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-runtime/berth/internal/network/usermode"
	"github.com/berth-runtime/berth/internal/rootless"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-runtime/berth/internal/dockerfile"
	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
)

// stageState is a stage as its steps go: the image so far and what the
// steps see.
type stageState struct {
	index int
	name  string
	image string // "" for scratch before its first step
	cfg   v1.Config
	shell []string
	args  []string // declared ARGs as KEY=value, in order
	// release lets go of what the step under way holds (its cache
	// mounts' locks).
	release []func()
	// The step under way: its number in the build, its place in the
	// stage (of steps), and when it started.
	step, k, steps int
	started        time.Time
	// afterStep undoes what a RUN's mounts needed (secret files, roots
	// mounted for binds), last first; bindFroms are the binds from a
	// stage or image still to mount: the stage's own, as stages run at
	// once.
	afterStep []func()
	bindFroms []bindFrom
}

// releaseStep lets go of what the step held.
func (st *stageState) releaseStep() {
	for _, f := range st.release {
		f()
	}
	st.release = nil
}

// env is what a step's words expand with: the stage's ARGs, then its
// environment, which wins over them.
func (st *stageState) env() []string {
	return append(slices.Clone(st.args), st.cfg.Env...)
}

func (b *builder) buildStage(i int) error {
	s := b.stages[i]
	base := b.expandMeta(s.BaseName)
	label := s.Name
	if label == "" {
		label = fmt.Sprintf("stage-%d", i)
	}
	st := &stageState{index: i, name: label, steps: 1 + len(s.Commands)}
	b.startStep(st, "FROM "+base)
	id, err := b.baseImage(base, i)
	if err != nil {
		return b.failStep(st, fmt.Errorf("FROM %s: %w", base, err))
	}
	if err := b.use(id); err != nil {
		return err
	}
	cfg, err := b.baseConfig(id)
	if err != nil {
		return err
	}
	if !hasKey(cfg.Env, "PATH") {
		// As BuildKit and buildah: steps and the image get the default
		// PATH when the base image sets none.
		cfg.Env = append(slices.Clone(cfg.Env), "PATH="+defaultPath)
	}
	st.image, st.cfg, st.shell = id, cfg, dockerfile.DefaultShell
	if len(cfg.Shell) > 0 {
		st.shell = cfg.Shell
	}
	cmds, err := b.onbuildTriggers(st)
	if err != nil {
		return b.failStep(st, fmt.Errorf("FROM %s: %w", base, err))
	}
	st.steps += len(cmds)
	b.endStep(st, false)
	for _, c := range append(cmds, s.Commands...) {
		if err := b.ctx.Err(); err != nil {
			return errInterrupted
		}
		b.startStep(st, commandText(c))
		cached, err := b.dispatch(st, c)
		if err != nil {
			return b.failStep(st, stepError(c, err))
		}
		b.endStep(st, cached)
	}
	b.setResult(i, st.image)
	return nil
}

// onbuildTriggers are the base image's ONBUILD instructions, run first,
// as Docker runs them; the new image does not carry them on.
func (b *builder) onbuildTriggers(st *stageState) ([]instructions.Command, error) {
	if len(st.cfg.OnBuild) == 0 {
		return nil, nil
	}
	var cmds []instructions.Command
	for _, trigger := range st.cfg.OnBuild {
		res, err := parser.Parse(strings.NewReader(trigger))
		if err != nil {
			return nil, fmt.Errorf("ONBUILD %s: %w", trigger, err)
		}
		for _, node := range res.AST.Children {
			switch strings.ToLower(node.Value) {
			case "onbuild", "from", "maintainer":
				return nil, errdefs.New(errdefs.ErrInvalidArgument, "ONBUILD %s: %s is not allowed as an ONBUILD trigger", trigger, strings.ToUpper(node.Value))
			}
			c, err := instructions.ParseCommand(node)
			if err != nil {
				return nil, fmt.Errorf("ONBUILD %s: %w", trigger, err)
			}
			cmds = append(cmds, c)
		}
	}
	st.cfg.OnBuild = nil
	return cmds, nil
}

// defaultPath is BuildKit's default PATH on Linux.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stepError names the instruction and its line.
func stepError(c instructions.Command, err error) error {
	line := 0
	if loc := c.Location(); len(loc) > 0 {
		line = loc[0].Start.Line
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return errdefs.Exit{Code: 1, Err: fmt.Errorf("line %d: %s: %w", line, commandText(c), err)}
	}
	return fmt.Errorf("line %d: %s: %w", line, commandText(c), err)
}

func commandText(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return strings.ToUpper(c.Name())
}

// dispatch runs one instruction; cached says its result came from the
// cache.
func (b *builder) dispatch(st *stageState, c instructions.Command) (bool, error) {
	switch c := c.(type) {
	case *instructions.ArgCommand:
		return false, b.arg(st, c)
	case *instructions.RunCommand:
		return b.run(st, c)
	case *instructions.CopyCommand:
		return b.copy(st, c)
	case *instructions.AddCommand:
		return b.add(st, c)
	}
	if err := dockerfile.Expand(c, st.env()); err != nil {
		return false, err
	}
	if sh, ok := c.(*instructions.ShellCommand); ok {
		st.shell = slices.Clone(sh.Shell)
	}
	cfg := st.cfg
	cfg.Env = slices.Clone(cfg.Env)
	if err := dockerfile.Apply(&cfg, c, st.shell); err != nil {
		return false, err
	}
	desc, _ := json.Marshal(c)
	key := cacheKey(st.image, c.Name(), string(desc), strings.Join(st.shell, " "))
	return b.commit(st, key, cfg, nil, commandText(c), true)
}

// arg declares a stage's ARG: --build-arg, else its default, else the
// global ARG of that name.
func (b *builder) arg(st *stageState, c *instructions.ArgCommand) error {
	for _, kv := range c.Args {
		if err := expandArg(&kv, st.env()); err != nil {
			return err
		}
		v, ok := b.o.BuildArgs[kv.Key]
		if !ok && kv.Value != nil {
			v, ok = *kv.Value, true
		}
		if !ok {
			v, ok = b.meta[kv.Key]
		}
		st.args = setKV(st.args, kv.Key, v)
	}
	return nil
}

// commit makes the step's image (or finds it in the cache): st.image
// with layers and cfg. emptyLayer marks a step that made no layer.
func (b *builder) commit(st *stageState, key string, cfg v1.Config, layers []image.Layer, text string, emptyLayer bool) (bool, error) {
	if id, ok, err := b.cached(key); err != nil || ok {
		if ok {
			st.image, st.cfg = id, cfg
		}
		return ok, err
	}
	release, err := b.cache.Hold()
	if err != nil {
		b.store.DiscardLayers(layers)
		return false, err
	}
	defer release()
	t := now()
	img, err := b.store.Create(b.ctx, image.NewImage{Base: st.image, Layers: layers, Config: cfg, Created: t,
		History:      []v1.History{{Created: v1.Time{Time: t}, CreatedBy: text, Comment: "berth build", EmptyLayer: emptyLayer}},
		Intermediate: true})
	if err != nil {
		b.store.DiscardLayers(layers)
		return false, err
	}
	if err := b.cache.Done(key, img.ID); err != nil {
		return false, err
	}
	st.image, st.cfg = img.ID, cfg
	return false, nil
}

// errInterrupted: the build was stopped by SIGINT or SIGTERM (status
// 130, as a shell reports ctrl-c).
var errInterrupted = errdefs.Exit{Code: 130, Err: errors.New("build interrupted: completed steps are kept in the cache")}

// exitError is a RUN whose command failed.
type exitError struct {
	code int
	tail []string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("the command exited with code %d", e.code)
}

// run runs a RUN step in a container of the stage's image.
func (b *builder) run(st *stageState, c *instructions.RunCommand) (bool, error) {
	if st.image == "" {
		return false, errdefs.New(errdefs.ErrInvalidArgument, "RUN in a stage FROM scratch: it has no shell or program to run")
	}
	if err := dockerfile.Expand(c, st.env()); err != nil { // its --mount flags
		return false, err
	}
	args := runArgs(c, st.shell)
	defer st.releaseStep()
	mounts, mountKey, err := b.runMounts(st, c)
	defer b.stepDone(st)
	if err != nil {
		return false, err
	}
	secretEnv, secretKey, err := b.secretEnv(c)
	if err != nil {
		return false, err
	}
	mountKey += secretKey
	network := b.o.Network
	if n := instructions.GetNetwork(c); n != "" && n != instructions.NetworkDefault {
		network = string(n)
	}
	desc, _ := json.Marshal(struct {
		Args    []string
		Env     []string
		Network string
		Mounts  string
	}{args, st.args, network, mountKey})
	key := cacheKey(st.image, "run", string(desc))
	id, ok, unlock, err := b.cachedStep(key)
	if err != nil || ok {
		if ok {
			st.image = id
		}
		return ok, err
	}
	defer unlock()
	if err := b.mountBindFroms(st, mounts); err != nil {
		return false, err
	}
	empty := ""
	mc := managed.Config{Cmd: args, Entrypoint: &empty, Env: append(append(b.runEnv(st), secretEnv...), b.sshEnv(c)...), NetworkMode: network, Mounts: mounts}
	if mc.UserModeNetwork, err = userModeNetwork(network); err != nil {
		return false, err
	}
	step, err := b.e.NewStep(st.image, mc)
	if err != nil {
		return false, err
	}
	defer func() { _ = step.Remove() }()
	code, tail, err := b.runStep(st, step)
	if b.ctx.Err() != nil {
		return false, errInterrupted
	}
	if err != nil {
		return false, err
	}
	if code != 0 {
		if b.o.Progress == nil {
			// Quiet: the output was not shown; its end says why.
			for _, l := range tail {
				fmt.Fprintf(os.Stderr, "  | %s\n", l)
			}
		}
		return false, &exitError{code: code, tail: tail}
	}
	release, err := b.hold()
	if err != nil {
		return false, err
	}
	layer, err := step.Layer(nil)
	if err != nil {
		release()
		if layer.Digest != "" {
			b.store.DiscardLayers([]image.Layer{layer})
		}
		return false, err
	}
	cached, err := b.commitHeld(st, key, st.cfg, layer, "RUN "+strings.Join(args, " "), release)
	return cached, err
}

// commitHeld is commit for a layer made while the store is held, let go
// before a failure's layer is discarded.
func (b *builder) commitHeld(st *stageState, key string, cfg v1.Config, layer image.Layer, text string, release func()) (bool, error) {
	var layers []image.Layer
	if layer.Digest != "" {
		layers = []image.Layer{layer}
	}
	t := now()
	img, err := b.store.Create(b.ctx, image.NewImage{Base: st.image, Layers: layers, Config: cfg, Created: t,
		History:      []v1.History{{Created: v1.Time{Time: t}, CreatedBy: text, Comment: "berth build", EmptyLayer: len(layers) == 0}},
		Intermediate: true})
	if err != nil {
		release()
		b.store.DiscardLayers(layers)
		return false, err
	}
	err = b.cache.Done(key, img.ID)
	release()
	if err != nil {
		return false, err
	}
	st.image, st.cfg = img.ID, cfg
	return false, nil
}

// runEnv is a RUN's environment beyond the image's: the stage's ARGs
// that no ENV sets.
func (b *builder) runEnv(st *stageState) []string {
	var env []string
	for _, a := range st.args {
		k, _, _ := strings.Cut(a, "=")
		if !hasKey(st.cfg.Env, k) {
			env = append(env, a)
		}
	}
	return env
}

// runStep runs the step's container with its output relayed to the
// progress and the last lines kept for an error.
func (b *builder) runStep(st *stageState, step *engine.Step) (int, []string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	tail := &tailWriter{max: 10}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var dst io.Writer = tail
		if b.o.Progress != nil {
			out := b.stepOutput(st)
			defer out.flush()
			dst = io.MultiWriter(tail, out)
		}
		_, _ = io.Copy(dst, r)
	}()
	code, err := step.Run(b.ctx, w) // interrupted: killed; the caller's Remove cleans up
	w.Close()
	wg.Wait()
	r.Close()
	return code, tail.lines(), err
}

// runArgs is a RUN's command: the exec form as it is, the shell form
// under SHELL; a heredoc's script runs in the shell, as BuildKit runs it.
func runArgs(c *instructions.RunCommand, sh []string) []string {
	args := c.CmdLine
	if len(c.Files) > 0 && len(args) == 1 && c.PrependShell {
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			args = []string{c.Files[0].Data}
		} else {
			full := args[0]
			for _, f := range c.Files {
				full += "\n" + f.Data + f.Name
			}
			args = []string{full}
		}
	}
	if !c.PrependShell {
		return slices.Clone(args)
	}
	return append(slices.Clone(sh), strings.Join(args, " "))
}

// cacheKey is a step's key: its parent image and what the step does.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func expandWord(w string, env []string) (string, error) {
	r, _, err := shell.NewLex('\\').ProcessWord(w, shell.EnvsFromSlice(env))
	return r, err
}

func expandArg(kv *instructions.KeyValuePairOptional, m any) error {
	var env []string
	switch m := m.(type) {
	case map[string]string:
		for k, v := range m {
			env = append(env, k+"="+v)
		}
	case []string:
		env = m
	}
	if kv.Value == nil {
		return nil
	}
	v, err := expandWord(*kv.Value, env)
	if err != nil {
		return err
	}
	kv.Value = &v
	return nil
}

func setKV(list []string, k, v string) []string {
	for i, e := range list {
		if key, _, _ := strings.Cut(e, "="); key == k {
			list[i] = k + "=" + v
			return list
		}
	}
	return append(list, k+"="+v)
}

func hasKey(env []string, k string) bool {
	for _, e := range env {
		if key, _, _ := strings.Cut(e, "="); key == k {
			return true
		}
	}
	return false
}

func errorsIsNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }

// tailWriter keeps the last lines written.
type tailWriter struct {
	mu   sync.Mutex
	max  int
	buf  []string
	part string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := strings.Split(t.part+string(p), "\n")
	t.part = parts[len(parts)-1]
	t.buf = append(t.buf, parts[:len(parts)-1]...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailWriter) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.buf)
	if t.part != "" {
		out = append(out, t.part)
	}
	if len(out) > t.max {
		out = out[len(out)-t.max:]
	}
	return out
}

// userModeNetwork is the user-mode stack (pasta or slirp4netns) that
// gives a rootless build's RUN its bridge network, as rootless berth run
// --network bridge has: a rootless berth cannot make veths or a bridge.
// Empty for root, and for none and host.
func userModeNetwork(network string) (managed.UserModeTool, error) {
	if !rootless.Active() || (network != "bridge" && !usermode.IsTool(network)) {
		return "", nil
	}
	tool, err := usermode.Choose(network)
	if err != nil {
		return "", fmt.Errorf("RUN --network %s: %w", network, err)
	}
	return managed.UserModeTool(tool), nil
}
