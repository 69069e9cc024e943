// Command berth-registry is berth's registry client: berth pull, push,
// login, and the pulls of berth run and create run it with the request
// as JSON on standard input, and read progress events and the result as
// JSON lines on its standard output (internal/registry/client). It also
// decompresses zstd for berth (`berth-registry unzstd`: standard input
// to standard output), which links no zstd decoder. It is a
// binary of its own because it links net/http, crypto/tls and
// go-containerregistry's remote packages, whose package initialization
// and size every berth command would otherwise pay, berth run included
// (docs/design.md).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/progress"
	"github.com/berth-runtime/berth/internal/registry"
	"github.com/berth-runtime/berth/internal/registry/client"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == image.UnzstdArg {
		os.Exit(unzstd())
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "berth-registry: run by berth (berth pull, push, login)")
		os.Exit(125)
	}
	out := &lines{enc: json.NewEncoder(os.Stdout)}
	res, err := serve(os.Args[1], os.Stdin, out)
	if err != nil {
		out.send(client.Line{Error: client.EncodeError(err)})
		os.Exit(1)
	}
	out.send(client.Line{Result: res})
}

// lines writes JSON lines, one at a time: layers report in parallel.
type lines struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (l *lines) send(line client.Line) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(line)
}

// Report implements progress.Reporter.
func (l *lines) Report(e progress.Event) { l.send(client.Line{Event: &e}) }

// serve reads the request on in and runs it (registry.Serve). SIGINT
// and SIGTERM cancel it: a pull stops cleanly, and the next one resumes
// it.
func serve(op string, in io.Reader, out *lines) (*client.Result, error) {
	var req client.Request
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		return nil, fmt.Errorf("berth-registry: read the request: %w", err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer cancel()
	return registry.Serve(ctx, op, req, out)
}
