package render

import (
	"fmt"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/events"
)

type stringer string

func (s stringer) String() string { return "str:" + string(s) }

// ptrStringer's String is *ptrStringer's: text/template calls it on an
// addressable field, fmt.Sprint of the value does not.
type ptrStringer string

func (s *ptrStringer) String() string { return "ptr:" + string(*s) }

type inner struct{ Deep, Shadow string }

func (inner) Method() string { return "m" }

// promoted has the exported field of an unexported embedded struct.
type promoted struct {
	inner2
	Name string
}

type inner2 struct{ Deep string }

type withMethods struct {
	inner
	Name string
}

func (withMethods) Shadow() string { return "method wins" }

type sample struct {
	S      string
	N      int
	F      float64
	B      bool
	Str    stringer
	PS     ptrStringer
	Any    any
	Nil    any
	P      *inner
	NilP   *inner
	M      map[string]string
	L      []string
	T      time.Time
	W      withMethods
	Embed  *inner
	hidden string
}

// TestSimpleMatchesTemplate: wherever the fast path answers, it prints
// what text/template prints; and it does answer the common forms, so
// that berth runs them without the helper.
// samples are values chosen to trip the fast path: methods, pointer
// methods, nil pointers and interfaces, maps, promoted fields.
func samples() []any {
	s := sample{S: "a<b>&", N: -3, F: 1.5, B: true, Str: "x", PS: "y", Any: "dyn", P: &inner{Deep: "d"},
		M: map[string]string{"k": "v", "": "empty"}, L: []string{"a", "b"}, T: time.Unix(5, 0).UTC(),
		W: withMethods{inner: inner{Deep: "dd", Shadow: "field"}, Name: "w"}, hidden: "h"}
	ci := engine.ContainerInspect{ID: "abc", Name: "/web"}
	ci.State.Status = "running"
	ev := events.Event{Type: "container", Action: "start", Actor: events.Actor{ID: "i", Attributes: map[string]string{"name": "web"}}}
	return []any{s, &s, promoted{inner2{"pd"}, "pn"}, ci, ev, PsRow{ID: "1", Names: "n"}, NetworkRow{Name: "x", Containers: 2},
		map[string]string{"ID": "CONTAINER ID"}, "plain", 7, nil}
}

func TestSimpleMatchesTemplate(t *testing.T) {
	objects := samples()
	s := objects[0].(sample)
	ci := objects[3].(engine.ContainerInspect)
	ev := objects[4].(events.Event)
	formats := []string{
		"", "text only", "{{.}}", "{{ . }}", "{{json .}}", "{{.S}}", "{{ .S }}", "{{.N}} {{.F}} {{.B}}", "{{json .S}}",
		"{{.Str}}", "{{.PS}}", "{{.Any}}", "{{.Nil}}", "{{.P.Deep}}", "{{.NilP.Deep}}", "{{json .NilP}}", "{{.M.k}}", "{{.M.nope}}",
		"{{.L}}", "{{json .L}}", "{{.T}}", "{{.W.Name}}", "{{.W.Deep}}", "{{.W.Shadow}}", "{{.W.Method}}", "{{.Embed.Deep}}", "{{.Deep}}", "{{json .Deep}}",
		"{{.hidden}}", "{{.Nope}}", "{{.ID}}", "{{.Id}}", "{{.Name}}", "{{.State.Status}}", "{{json .State}}",
		"{{.Type}} {{.Action}}", "{{.Actor.Attributes.name}}", "{{.Actor.Attributes.nope}}", "{{.When}}",
		"{{.Names}}\t{{.ID}}", "{{.Containers}}", "{{.S}}}} {{", "a }} b {{.S}}",
	}
	for _, f := range formats {
		checkSimple(t, f, objects)
	}
	for _, c := range []struct {
		format string
		obj    any
	}{
		{"{{.S}} {{.N}} {{.F}} {{.B}}", s}, {"{{.P.Deep}}", &s}, {"{{json .}}", s}, {"{{json .L}}", s}, {"{{.M.k}}", s},
		{"{{.W.Name}}", s}, {"{{.Deep}} {{json .Deep}}", promoted{}}, {"{{.ID}}\t{{.Names}}", PsRow{}}, {"{{.Containers}}", NetworkRow{}}, {"{{.ID}}", map[string]string{"ID": "x"}},
		{"{{.State.Status}}", ci}, {"{{json .State}}", ci}, {"{{.Type}}", ev}, {"{{.Actor.Attributes.name}}", ev}, {"{{json .}}", ev},
	} {
		fast, ok := compileSimple(c.format)
		if !ok {
			t.Errorf("%q: not simple", c.format)
			continue
		}
		if _, ok := fast.exec(c.obj); !ok {
			t.Errorf("%q on %T: the fast path gave up", c.format, c.obj)
		}
	}
	for _, f := range []string{"{{upper .S}}", "{{.S | printf \"%q\"}}", "{{- .S}}", "{{.S -}}", "{{/* c */}}", "{{range .L}}{{.}}{{end}}",
		"{{.S", "{{index .M \"k\"}}", "{{.1}}", "{{$x := .S}}", "{{.M.k.}}", "{{..S}}", "{{json}}", "{{json .S .N}}", "{{.ß}}"} {
		if _, ok := compileSimple(f); ok {
			t.Errorf("%q: taken as simple", f)
		}
	}
}

// checkSimple fails t where the fast path accepts f, or answers on one of
// objects, and text/template disagrees.
func checkSimple(t *testing.T, f string, objects []any) {
	t.Helper()
	fast, ok := compileSimple(f)
	parsed, err := template.New("").Funcs(template.FuncMap{"json": JSON}).Parse(f)
	if err != nil {
		if ok {
			t.Errorf("%q: simple, but text/template says %v", f, err)
		}
		return
	}
	if !ok {
		return
	}
	for _, o := range objects {
		got, ok := fast.exec(o)
		if !ok {
			continue
		}
		var want strings.Builder
		terr := template.Must(parsed.Clone()).Execute(&want, o)
		if terr != nil || got != want.String() {
			t.Errorf("%q on %T: fast %q, text/template %q (%v)", f, o, got, want.String(), terr)
		}
	}
}

// FuzzSimpleMatchesTemplate: whatever format the fast path accepts, it
// prints what text/template prints, on every sample it answers for.
func FuzzSimpleMatchesTemplate(f *testing.F) {
	for _, seed := range []string{"{{.S}} {{json .M}}", "table {{.ID}}\t{{.Names}}", "{{ .P.Deep }}x{{.W.Name}}", "{{json .}}", "a}}{{.N}}"} {
		f.Add(seed)
	}
	objects := samples()
	f.Fuzz(func(t *testing.T, format string) { checkSimple(t, format, objects) })
}

// TestKindsRoundTrip: each kind's value travels under its own name and
// comes back as the same type and value.
func TestKindsRoundTrip(t *testing.T) {
	for _, kind := range []string{"ps", "images", "history", "networks", "volumes", "headers", "container", "image", "volume",
		"network", "event", "version", "info"} {
		v, err := Decode(kind, []byte("{}"))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if got := kindOf(v); got != kind {
			t.Errorf("%s decodes to %T, which travels as %q", kind, v, got)
		}
	}
	ev := events.Event{Type: "image", TimeNano: 42, Actor: events.Actor{Attributes: map[string]string{"a": "b"}}}
	raw, _ := JSON(ev)
	back, err := Decode(kindOf(ev), []byte(raw))
	if err != nil || fmt.Sprint(back) != fmt.Sprint(ev) {
		t.Errorf("event: %v %+v", err, back)
	}
	if v, err := Decode("", []byte(`{"a":1}`)); err != nil || fmt.Sprint(v) != "map[a:1]" {
		t.Errorf("unknown kind: %v %v", v, err)
	}
}
