package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/progress"
	"github.com/berth-runtime/berth/internal/selfexe"
)

// PullOptions tune a pull (internal/registry.PullOptions, less the
// keychain: the helper reads the credentials berth login stores).
type PullOptions struct {
	Insecure bool
	Platform string
	Progress progress.Reporter // nil discards the events
}

// Pulled is the image a pull stored.
type Pulled struct {
	ID      string
	Names   []string
	Digests []string
}

// Pushed is what a push published (internal/registry.Pushed).
type Pushed struct {
	Repository, Tag, Digest string
	Size                    int64
}

// Pull fetches ref into the image store in the directory images.
func Pull(images, ref string, o PullOptions) (*Pulled, error) {
	r, err := run(Request{Op: "pull", Images: images, Ref: ref, Platform: o.Platform, Insecure: o.Insecure,
		Progress: o.Progress != nil}, o.Progress)
	if err != nil {
		return nil, err
	}
	return &Pulled{ID: r.ID, Names: r.Names, Digests: r.Digests}, nil
}

// Push uploads the image tagged ref from the store in images.
func Push(images, ref string, insecure bool, rep progress.Reporter) (*Pushed, error) {
	r, err := run(Request{Op: "push", Images: images, Ref: ref, Insecure: insecure, Progress: rep != nil}, rep)
	if err != nil {
		return nil, err
	}
	return &Pushed{Repository: r.Repository, Tag: r.Tag, Digest: r.Digest, Size: r.Size}, nil
}

// CheckLogin tries user and password on registry (host[:port]).
func CheckLogin(registry, user, password string, insecure bool) error {
	_, err := run(Request{Op: "login", Registry: registry, User: user, Password: password, Insecure: insecure}, nil)
	return err
}

// run starts berth-registry with req and reads its answer. SIGINT and
// SIGTERM to berth reach the helper too, which stops cleanly (a pull is
// resumed by the next one); berth waits for its answer.
func run(req Request, rep progress.Reporter) (*Result, error) {
	bin, err := selfexe.Helper(selfexe.RegistryName)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Op, req.Ref, err)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	c := exec.Command(bin, req.Op)
	c.Stdin, c.Stderr = bytes.NewReader(b), os.Stderr
	// A berth killed outright takes its helper along: stopped as by
	// SIGTERM, a pull keeps what it fetched for the next one to resume.
	// The signal watches the thread that forks the helper: this goroutine
	// keeps that thread until the helper is gone, so that no goroutine
	// that ends its thread (link.handleAt) can be given it meanwhile.
	c.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGTERM}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", selfexe.RegistryName, err)
	}
	go func() {
		for sig := range sigs {
			_ = c.Process.Signal(sig)
		}
	}()
	res, rerr := read(out, rep)
	werr := c.Wait()
	switch {
	case rerr != nil:
		return nil, rerr
	case res != nil:
		return res, nil
	case werr != nil:
		return nil, fmt.Errorf("%s: %w", selfexe.RegistryName, werr)
	}
	return nil, fmt.Errorf("%s gave no answer", selfexe.RegistryName)
}

// read takes the helper's lines: events to rep, then the result or the
// error. Reading goes on to the end, so the helper never blocks on a
// full pipe.
func read(r io.Reader, rep progress.Reporter) (*Result, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var res *Result
	var rerr error
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			if rerr == nil && res == nil {
				rerr = fmt.Errorf("%s: bad answer %q", selfexe.RegistryName, strings.TrimSpace(sc.Text()))
			}
			continue
		}
		switch {
		case l.Event != nil:
			if rep != nil {
				rep.Report(*l.Event)
			}
		case l.Result != nil:
			res = l.Result
		case l.Error != nil:
			rerr = l.Error.Decode()
		}
	}
	if err := sc.Err(); err != nil && rerr == nil && res == nil {
		rerr = fmt.Errorf("read %s's answer: %w", selfexe.RegistryName, err)
	}
	if rerr != nil {
		return nil, rerr
	}
	if res == nil {
		return nil, nil
	}
	return res, nil
}
