package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/progress"
)

// roundTrip sends v through JSON as the pipe does.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\n") {
		t.Fatalf("not one line: %s", b)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{Op: "pull", Images: "/var/lib/berth/images", Ref: "alpine:3", Platform: "linux/arm64", Insecure: true, Progress: true},
		{Op: "push", Images: "/r/images", Ref: "localhost:5000/a:1"},
		{Op: "login", Registry: "localhost:5000", User: "me", Password: "p\"w\nd"},
	} {
		if got := roundTrip(t, r); got != r {
			t.Errorf("got %+v, want %+v", got, r)
		}
	}
}

func TestLinesRoundTrip(t *testing.T) {
	for _, l := range []Line{
		{Event: &progress.Event{ID: "0123456789ab", Phase: progress.Downloading, Total: 100, Done: 42}},
		{Result: &Result{ID: "sha256:aa", Names: []string{"docker.io/library/alpine:3"}, Digests: []string{"docker.io/library/alpine@sha256:bb"}}},
		{Result: &Result{Repository: "localhost:5000/a", Tag: "1", Digest: "sha256:cc", Size: 528}},
		{Error: &Error{Message: "pull x: boom", Is: []string{"image.ErrNoSuchTag"}}},
	} {
		if got := roundTrip(t, l); !reflect.DeepEqual(got, l) {
			t.Errorf("got %+v, want %+v", got, l)
		}
	}
}

// TestErrorKeepsSentinels: an error wrapped as the registry code wraps
// them comes back with its message and errors.Is true for its sentinel,
// and for its class, false for the others.
func TestErrorKeepsSentinels(t *testing.T) {
	for name, s := range Sentinels {
		orig := fmt.Errorf("pull localhost:5000/a:1: %w", s)
		got := roundTrip(t, EncodeError(orig)).Decode()
		if got.Error() != orig.Error() {
			t.Errorf("%s: message %q, want %q", name, got, orig)
		}
		for other, o := range Sentinels {
			if errors.Is(got, o) != errors.Is(orig, o) {
				t.Errorf("%s: errors.Is(%s) = %v, want %v", name, other, errors.Is(got, o), errors.Is(orig, o))
			}
		}
	}
	// A classified error: its class travels with it.
	orig := errdefs.New(errdefs.ErrInvalidArgument, "invalid reference %q", "A")
	got := roundTrip(t, EncodeError(orig)).Decode()
	if !errors.Is(got, errdefs.ErrInvalidArgument) || errors.Is(got, errdefs.ErrNotFound) {
		t.Errorf("class lost: %v", got)
	}
	// image.ErrNotFound is of the class errdefs.ErrNotFound.
	got = roundTrip(t, EncodeError(fmt.Errorf("x: %w", image.ErrNotFound))).Decode()
	if !errors.Is(got, image.ErrNotFound) || !errors.Is(got, errdefs.ErrNotFound) {
		t.Errorf("not found lost: %v", got)
	}
	// Exit statuses are the CLI's default, as for the error itself.
	if errdefs.Berth.Status(got) != 125 {
		t.Errorf("status %d", errdefs.Berth.Status(got))
	}
	// An unknown name (a newer helper) is dropped, the message kept.
	got = (&Error{Message: "m", Is: []string{"image.ErrFromTheFuture"}}).Decode()
	if got.Error() != "m" || errors.Unwrap(got) != nil {
		t.Errorf("unknown sentinel: %v", got)
	}
}

type events []progress.Event

func (e *events) Report(ev progress.Event) { *e = append(*e, ev) }

// TestRead: events go to the reporter in order, then the result; or the
// error; a helper that died without an answer is no result.
func TestRead(t *testing.T) {
	var evs events
	stream := `{"Event":{"ID":"a","Phase":"Downloading","Total":10,"Done":1}}
{"Event":{"ID":"a","Phase":"Done","Total":10,"Done":10}}
{"Result":{"ID":"sha256:aa","Names":["n"]}}
`
	res, err := read(strings.NewReader(stream), &evs)
	if err != nil || res == nil || res.ID != "sha256:aa" || len(evs) != 2 || evs[1].Phase != progress.Done {
		t.Errorf("got %+v %v, events %+v", res, err, evs)
	}
	_, err = read(strings.NewReader(`{"Error":{"Message":"pull a: denied","Is":["image.ErrAccessDenied"]}}`+"\n"), nil)
	if !errors.Is(err, image.ErrAccessDenied) || err.Error() != "pull a: denied" {
		t.Errorf("error: %v", err)
	}
	if res, err := read(strings.NewReader(""), nil); res != nil || err != nil {
		t.Errorf("empty: %+v %v", res, err)
	}
	if _, err := read(strings.NewReader("panic: oops\n"), nil); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("garbage: %v", err)
	}
}
