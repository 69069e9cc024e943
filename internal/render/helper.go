package render

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/selfexe"
)

// The protocol between berth and berth-format, JSON values on the
// helper's stdin and stdout: berth sends a Request and reads a Reply (the
// parse's error, if any); then for each object an Item and its Reply.
// berth writes the output itself, so that a table's columns line up and
// the helper's lines and berth's own come in order.

// Request opens a session: the template and its name in messages.
type Request struct {
	Format string
	Name   string `json:",omitempty"`
}

// Item is one value to run the template on. With Fallback, a failed
// run is tried again on the JSON as a map (ModeInspect).
type Item struct {
	Kind     string `json:",omitempty"`
	Value    json.RawMessage
	Fallback bool `json:",omitempty"`
}

// Reply is the parse's or a run's result: Error is text/template's
// message, which berth turns into its line.
type Reply struct {
	Out   string `json:",omitempty"`
	Error string `json:",omitempty"`
}

// helperCommand is berth-format's command; tests run their own binary.
var helperCommand = func() (*exec.Cmd, error) {
	bin, err := selfexe.Helper(selfexe.FormatName)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	return exec.Command(bin), nil
}

// helper is a running berth-format.
type helper struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	enc *json.Encoder
	dec *json.Decoder
}

// startHelper starts berth-format on format; msg is the parse's error.
func startHelper(format, name string) (h *helper, msg string, err error) {
	c, err := helperCommand()
	if err != nil {
		return nil, "", err
	}
	c.Stderr = os.Stderr
	// Nothing of it outlives berth: it holds only what berth sent it.
	c.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	in, err := c.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := c.Start(); err != nil {
		return nil, "", fmt.Errorf("--format: run %s: %w", selfexe.FormatName, err)
	}
	h = &helper{cmd: c, in: in, enc: json.NewEncoder(in), dec: json.NewDecoder(out)}
	r, err := h.call(Request{Format: format, Name: name})
	if err != nil || r.Error != "" {
		h.close()
		if err != nil {
			return nil, "", err
		}
		return nil, r.Error, nil
	}
	return h, "", nil
}

// execute runs the template on v; msg is text/template's error.
func (h *helper) execute(v any, fallback bool) (out, msg string, err error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", "", err
	}
	r, err := h.call(Item{Kind: kindOf(v), Value: raw, Fallback: fallback})
	if err != nil {
		return "", "", err
	}
	return r.Out, r.Error, nil
}

func (h *helper) call(req any) (Reply, error) {
	var r Reply
	if err := h.enc.Encode(req); err != nil {
		return r, fmt.Errorf("--format: write to %s: %w", selfexe.FormatName, err)
	}
	if err := h.dec.Decode(&r); err != nil {
		return r, fmt.Errorf("--format: %s gave no answer: %w", selfexe.FormatName, err)
	}
	return r, nil
}

// close ends the session: the helper exits at the end of its input.
func (h *helper) close() error {
	h.in.Close()
	if err := h.cmd.Wait(); err != nil {
		return fmt.Errorf("--format: %s: %w", selfexe.FormatName, err)
	}
	return nil
}
