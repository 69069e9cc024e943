package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/berth-runtime/berth/internal/selfexe"
)

// A zstd stream is decompressed by a helper process, not by berth: the
// decoder's package initialization (klauspost/compress/zstd builds a
// CRC-32C table for its snappy converter) cost every berth command about
// 0.2 ms, run and ps alike, for the few images whose layers are zstd.
// berth-registry, which links the decoder anyway (go-containerregistry's
// remote does), decompresses: `berth-registry unzstd`, the stream on its
// standard input, the tar on its standard output. In berth-registry
// itself and in berth-build, whose pulls unpack layers too and which link
// the decoder, ZstdDecoder decodes in process (internal/image/zstdlocal).

// ZstdDecoder, when set, decompresses zstd in this process (zstdlocal
// sets it). Nil runs the helper.
var ZstdDecoder func(io.Reader) (io.ReadCloser, error)

// MaxZstdWindow bounds a zstd frame's window, so that a hostile frame
// cannot claim gigabytes of memory.
const MaxZstdWindow = 256 << 20

// UnzstdArg is the helper's argument: berth-registry unzstd.
const UnzstdArg = "unzstd"

// unzstd is r decompressed, by ZstdDecoder or the helper.
func unzstd(r io.Reader) (io.ReadCloser, error) {
	if ZstdDecoder != nil {
		return ZstdDecoder(r)
	}
	bin, err := selfexe.Helper(selfexe.RegistryName)
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	c := exec.Command(bin, UnzstdArg)
	c.Stdin = r
	h := &helperStream{cmd: c}
	c.Stderr = &h.stderr
	// No parent-death signal: should berth die, the helper's pipes close
	// and it ends on its next read or write.
	if h.out, err = c.StdoutPipe(); err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("zstd: run %s: %w", selfexe.RegistryName, err)
	}
	return h, nil
}

// helperStream is the helper's output. Its end is the end of the stream
// only if the helper succeeded; else reading fails with the helper's
// error.
type helperStream struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr bytes.Buffer
	done   bool
	err    error
}

func (h *helperStream) Read(p []byte) (int, error) {
	n, err := h.out.Read(p)
	if err == io.EOF {
		if werr := h.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// Close stops a helper that is still writing (the caller stopped
// reading) and reaps it.
func (h *helperStream) Close() error {
	if !h.done {
		_ = h.cmd.Process.Kill()
	}
	h.out.Close()
	_ = h.wait()
	return nil
}

// wait reaps the helper once, and is its error: its own words on
// standard error where it said any.
func (h *helperStream) wait() error {
	if h.done {
		return h.err
	}
	h.done = true
	if err := h.cmd.Wait(); err != nil {
		msg := strings.TrimSpace(h.stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg == "" {
			msg = fmt.Sprintf("%s %s: %v", selfexe.RegistryName, UnzstdArg, err)
		}
		h.err = errors.New(msg)
	}
	return h.err
}
