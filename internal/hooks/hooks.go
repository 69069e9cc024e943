// Package hooks runs OCI lifecycle hooks: each hook program gets the
// container's state as JSON on its stdin, its own args and environment,
// and is killed when its timeout runs out.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Run runs the hooks of one kind (prestart, createRuntime, ...) in order
// and stops at the first failure.
func Run(kind string, list []specs.Hook, st specs.State) error {
	if len(list) == 0 {
		return nil
	}
	input, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s hook: encode state: %w", kind, err)
	}
	for i, h := range list {
		if err := runOne(h, input); err != nil {
			// runc compat: runc's bats tests match "error running hook".
			return fmt.Errorf("%s hook %s: error running hook #%d: %w", kind, h.Path, i, err)
		}
	}
	return nil
}

// RunAll runs every hook of one kind even when some fail, and returns
// their failures together: poststart and poststop hooks only warn, and the
// runtime spec wants the remaining hooks run as if nothing had failed.
func RunAll(kind string, list []specs.Hook, st specs.State) error {
	if len(list) == 0 {
		return nil
	}
	input, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s hook: encode state: %w", kind, err)
	}
	var errs []error
	for i, h := range list {
		if err := runOne(h, input); err != nil {
			errs = append(errs, fmt.Errorf("%s hook %s: error running hook #%d: %w", kind, h.Path, i, err))
		}
	}
	return errors.Join(errs...)
}

func runOne(h specs.Hook, input []byte) error {
	ctx := context.Background()
	if h.Timeout != nil && *h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %d s", *h.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, firstLine(msg))
		}
		return err
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
