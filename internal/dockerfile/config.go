// Package dockerfile reads Dockerfile instructions with BuildKit's own
// parser (github.com/moby/buildkit/frontend/dockerfile): the instructions
// that only change an image's config, for berth commit --change and for
// berth build. BuildKit's packages compile regular expressions and build
// maps at init (about 1 ms with their dependencies), so only berth-build
// links this package, never berth itself: berth run's start stays as it
// was.
package dockerfile

import (
	"fmt"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// commitInstructions are those docker commit --change takes.
var commitInstructions = []string{"cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild", "stopsignal", "user", "volume", "workdir"}

// DefaultShell is what a shell-form CMD, ENTRYPOINT or RUN runs under.
var DefaultShell = []string{"/bin/sh", "-c"}

// ApplyChanges applies docker commit's --change instructions to cfg, in
// order, as docker commit does: one instruction per change, expanded with
// the config's environment. A change that is not one of Docker's commit
// instructions, or does not parse, is refused with the instruction named.
func ApplyChanges(cfg v1.Config, changes []string) (v1.Config, error) {
	for _, c := range changes {
		cmd, err := parseOne(c)
		if err != nil {
			return cfg, err
		}
		err = Expand(cmd, cfg.Env)
		if err == nil {
			err = Apply(&cfg, cmd, DefaultShell)
		}
		if err != nil {
			return cfg, errdefs.New(errdefs.ErrInvalidArgument, "--change %q: %v", c, err)
		}
	}
	return cfg, nil
}

// parseOne parses one --change line.
func parseOne(change string) (instructions.Command, error) {
	bad := func(err error) error {
		return errdefs.New(errdefs.ErrInvalidArgument, "--change %q: %v", change, err)
	}
	res, err := parser.Parse(strings.NewReader(change))
	if err != nil {
		return nil, bad(err)
	}
	if len(res.AST.Children) != 1 {
		return nil, bad(fmt.Errorf("want one instruction, got %d", len(res.AST.Children)))
	}
	node := res.AST.Children[0]
	if !slices.Contains(commitInstructions, strings.ToLower(node.Value)) {
		return nil, bad(fmt.Errorf("%s is not a valid change command (one of %s)", strings.ToUpper(node.Value), strings.ToUpper(strings.Join(commitInstructions, ", "))))
	}
	cmd, err := instructions.ParseCommand(node)
	if err != nil {
		return nil, bad(err)
	}
	return cmd, nil
}

// Expand expands an instruction's words with env (KEY=value entries: the
// config's environment, then build arguments).
func Expand(cmd instructions.Command, env []string) error {
	ex, ok := cmd.(instructions.SupportsSingleWordExpansion)
	if !ok {
		return nil
	}
	lex := shell.NewLex('\\')
	getter := shell.EnvsFromSlice(env)
	return ex.Expand(func(w string) (string, error) {
		r, _, err := lex.ProcessWord(w, getter)
		return r, err
	})
}

// Apply applies a config instruction, expanded, to cfg; sh is SHELL's,
// for a shell-form CMD or ENTRYPOINT. An instruction that is not about
// the config is refused.
func Apply(cfg *v1.Config, cmd instructions.Command, sh []string) error {
	switch c := cmd.(type) {
	case *instructions.CmdCommand:
		cfg.Cmd = withShell(c.ShellDependantCmdLine, sh)
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = withShell(c.ShellDependantCmdLine, sh)
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.ExposeCommand:
		return expose(cfg, c.Ports)
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.WorkdirCommand:
		cfg.WorkingDir = Workdir(cfg.WorkingDir, c.Path)
	case *instructions.ShellCommand:
		cfg.Shell = slices.Clone(c.Shell)
	case *instructions.MaintainerCommand:
		// The config has no field: Docker puts it in the image's author.
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries}
	default:
		return fmt.Errorf("%s does not change an image's config", strings.ToUpper(cmd.Name()))
	}
	return nil
}

// Workdir is WORKDIR p from dir: a relative path goes on from the last.
func Workdir(dir, p string) string {
	if !path.IsAbs(p) {
		p = path.Join("/", dir, p)
	}
	return path.Clean(p)
}

// withShell is a CMD's or ENTRYPOINT's command: the exec form as it is,
// the shell form run by the shell.
func withShell(c instructions.ShellDependantCmdLine, sh []string) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	return append(slices.Clone(sh), strings.Join(c.CmdLine, " "))
}

// setEnv sets key in env (KEY=value entries), in place where it is.
func setEnv(env []string, key, value string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// expose adds ports ("80", "80/tcp", "53/udp", "8000-8002") to the
// config's ExposedPorts, as PORT/PROTO.
func expose(cfg *v1.Config, ports []string) error {
	if cfg.ExposedPorts == nil {
		cfg.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range ports {
		num, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return fmt.Errorf("invalid proto %q in EXPOSE %s", proto, p)
		}
		lo, hi, isRange := strings.Cut(num, "-")
		first, err := port(lo)
		if err != nil {
			return fmt.Errorf("invalid port %q in EXPOSE", p)
		}
		last := first
		if isRange {
			if last, err = port(hi); err != nil || last < first {
				return fmt.Errorf("invalid port range %q in EXPOSE", p)
			}
		}
		for n := first; n <= last; n++ {
			cfg.ExposedPorts[fmt.Sprintf("%d/%s", n, proto)] = struct{}{}
		}
	}
	return nil
}

func port(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != s {
		return 0, fmt.Errorf("bad port")
	}
	return n, nil
}
