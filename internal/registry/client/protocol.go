// Package client runs berth-registry (cmd/berth-registry), the helper
// that holds berth's registry client (internal/registry), for berth's
// pull, push and login: berth itself then links neither net/http nor
// crypto/tls, whose package initialization and size cost every berth
// command. It must not import internal/registry.
//
// The protocol: berth writes one Request as JSON on the helper's stdin
// (a password never shows in its argv); the helper writes JSON lines on
// its stdout: progress events, then one result or one error. An error
// carries its message and the names of the sentinel errors it matches,
// so that the error rebuilt here answers errors.Is as the helper's did.
package client

import (
	"context"
	"errors"
	"os"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/progress"
)

// Request is what berth asks of berth-registry.
type Request struct {
	Op       string // "pull", "push" or "login"
	Images   string `json:",omitempty"` // the image store's directory (pull, push)
	Ref      string `json:",omitempty"` // pull, push
	Platform string `json:",omitempty"` // pull
	Insecure bool   `json:",omitempty"`
	Progress bool   `json:",omitempty"` // send progress events
	Registry string `json:",omitempty"` // login: host[:port]
	User     string `json:",omitempty"`
	Password string `json:",omitempty"`
}

// Line is one line of the helper's output: exactly one field is set.
type Line struct {
	Event  *progress.Event `json:",omitempty"`
	Result *Result         `json:",omitempty"`
	Error  *Error          `json:",omitempty"`
}

// Result is what an operation gave: a pull's image, a push's Pushed.
type Result struct {
	ID         string   `json:",omitempty"`
	Names      []string `json:",omitempty"`
	Digests    []string `json:",omitempty"`
	Repository string   `json:",omitempty"`
	Tag        string   `json:",omitempty"`
	Digest     string   `json:",omitempty"`
	Size       int64    `json:",omitempty"`
}

// Error is an error across the pipe: its message, and the names of the
// sentinels (Sentinels) it matches.
type Error struct {
	Message string
	Is      []string `json:",omitempty"`
}

// Sentinels are the errors callers of a pull, push or login test with
// errors.Is, by the name they travel under.
var Sentinels = map[string]error{
	"image.ErrPlainHTTP":         image.ErrPlainHTTP,
	"image.ErrUntrustedTLS":      image.ErrUntrustedTLS,
	"image.ErrAccessDenied":      image.ErrAccessDenied,
	"image.ErrNoSuchTag":         image.ErrNoSuchTag,
	"image.ErrNoPlatform":        image.ErrNoPlatform,
	"image.ErrPushDenied":        image.ErrPushDenied,
	"image.ErrNotTagged":         image.ErrNotTagged,
	"image.ErrLoginDenied":       image.ErrLoginDenied,
	"image.ErrNotFound":          image.ErrNotFound,
	"image.ErrLimit":             image.ErrLimit,
	"image.ErrUnsafeLayer":       image.ErrUnsafeLayer,
	"errdefs.ErrNotFound":        errdefs.ErrNotFound,
	"errdefs.ErrAlreadyExists":   errdefs.ErrAlreadyExists,
	"errdefs.ErrNotRunning":      errdefs.ErrNotRunning,
	"errdefs.ErrRunning":         errdefs.ErrRunning,
	"errdefs.ErrPaused":          errdefs.ErrPaused,
	"errdefs.ErrInUse":           errdefs.ErrInUse,
	"errdefs.ErrInvalidArgument": errdefs.ErrInvalidArgument,
	"context.Canceled":           context.Canceled,
	"context.DeadlineExceeded":   context.DeadlineExceeded,
	"os.ErrNotExist":             os.ErrNotExist,
	"os.ErrPermission":           os.ErrPermission,
}

// EncodeError is err for the pipe.
func EncodeError(err error) *Error {
	e := &Error{Message: err.Error()}
	for name, s := range Sentinels {
		if errors.Is(err, s) {
			e.Is = append(e.Is, name)
		}
	}
	return e
}

// Decode rebuilds the error: the same message, and errors.Is true for
// the sentinels it named (unknown names are dropped).
func (e *Error) Decode() error {
	r := &remoteError{msg: e.Message}
	for _, name := range e.Is {
		if s, ok := Sentinels[name]; ok {
			r.is = append(r.is, s)
		}
	}
	return r
}

// remoteError is an error berth-registry reported.
type remoteError struct {
	msg string
	is  []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.is }
