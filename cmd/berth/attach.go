package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/terminal"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func newAttachCommand(g *globalOptions) *cobra.Command {
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [--detach-keys KEYS] CONTAINER",
		Short: "Attach to a detached container's terminal (leave with ctrl-p ctrl-q)",
		Example: `  berth run -dit --name shell busybox sh
  berth attach shell`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			keys, err := parseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			return attach(g, rec, keys)
		},
	}
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "the key sequence that detaches")
	return cmd
}

// parseDetachKeys reads Docker's detach-key syntax: comma-separated
// keys, each a letter or ctrl-<letter> (also ctrl-@ [ \ ] ^ _).
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range splitComma(s) {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case len(k) == 6 && k[:5] == "ctrl-":
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= '@' && c <= '_':
				out = append(out, c-'@')
			default:
				return nil, fmt.Errorf("invalid --detach-keys %q: %q is not a key", s, k)
			}
		default:
			return nil, fmt.Errorf("invalid --detach-keys %q: use keys like ctrl-p,ctrl-q or a,b", s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("invalid --detach-keys %q: no keys", s)
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// attach joins the container's terminal until it ends (exiting with its
// status) or the user types the detach keys.
func attach(g *globalOptions, rec managed.Record, keys []byte) error {
	if err := g.engine().Admits(managed.OpAttach, rec); err != nil {
		return err
	}
	conn, err := g.engine().AttachTerminal(rec.ID)
	if err != nil {
		return fmt.Errorf("container %s %w", rec.Name, err)
	}
	defer conn.Close()
	if relayTerminal(conn, true, os.Stdout, keys) {
		return nil
	}
	// The container ended: exit with its status, as docker attach.
	g.containers().WaitReleased(rec.ID, 0)
	if end, err := g.containers().Get(rec.ID); err == nil && end.State.ExitCode != 0 {
		return exitError{end.State.ExitCode}
	}
	return nil
}

// relayTerminal joins the user's terminal to a container's: its output
// to out (nil: none), the user's input if stdin, until the container's
// terminal ends or the user types the detach keys (detached is then true).
func relayTerminal(conn *engine.Terminal, stdin bool, out io.Writer, keys []byte) (detached bool) {
	if terminal.IsTerminal(os.Stdin) {
		if stdin {
			restore, err := terminal.MakeRaw(os.Stdin)
			if err == nil {
				defer restore()
			}
		}
		sendSize(conn)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				sendSize(conn)
			}
		}()
	}
	if out == nil {
		out = io.Discard
	}
	input := make(chan error, 1)
	output := make(chan error, 1)
	if stdin {
		go func() { input <- conn.CopyInput(os.Stdin, keys) }()
	}
	go func() {
		_, err := io.Copy(out, conn)
		output <- err
	}()
	select {
	case err := <-input:
		if errors.Is(err, engine.ErrDetached) {
			return true
		}
		// Input ended: the output goes on until the container ends.
		<-output
	case <-output:
	}
	return false
}

func sendSize(conn *engine.Terminal) {
	if s, err := terminal.GetSize(os.Stdin); err == nil {
		_ = conn.Resize(s)
	}
}
