package render

import (
	"fmt"
	"reflect"
	"strings"
)

// simple is a template whose every action is a field chain (".", ".A",
// ".A.B") or docker's json of one: the default tables' and most users'
// formats. berth runs it without text/template, and only where it is sure
// to print what text/template would; anywhere else exec says no and the
// helper runs the object (TestSimpleMatchesTemplate holds the two to the
// same output).
type simple struct{ parts []part }

// part is literal text, or an action: the chain's value, or its JSON.
type part struct {
	text   string
	action bool
	json   bool
	chain  []string // empty: "." itself
}

// compileSimple takes format apart, if it is simple.
func compileSimple(format string) (*simple, bool) {
	s := &simple{}
	for format != "" {
		i := strings.Index(format, "{{")
		if i < 0 {
			s.parts = append(s.parts, part{text: format})
			break
		}
		if i > 0 {
			s.parts = append(s.parts, part{text: format[:i]})
		}
		rest := format[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, false
		}
		p, ok := compileAction(rest[:j])
		if !ok {
			return nil, false
		}
		s.parts = append(s.parts, p)
		format = rest[j+2:]
	}
	return s, true
}

// compileAction reads "CHAIN" or "json CHAIN", with spaces or tabs
// around: no trim markers, comments, pipelines, functions or keywords.
func compileAction(a string) (part, bool) {
	for i := 0; i < len(a); i++ {
		if c := a[i]; !(isIdentByte(c) || c == '.' || c == ' ' || c == '\t') {
			return part{}, false
		}
	}
	f := strings.Fields(a)
	p := part{action: true}
	switch {
	case len(f) == 2 && f[0] == "json":
		p.json, f = true, f[1:]
	case len(f) != 1:
		return part{}, false
	}
	if f[0] == "." {
		return p, true
	}
	if !strings.HasPrefix(f[0], ".") {
		return part{}, false
	}
	p.chain = strings.Split(f[0][1:], ".")
	for _, name := range p.chain {
		if !isIdent(name) {
			return part{}, false
		}
	}
	return p, true
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isIdent(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

// exec runs s on v; false if some action is not one it can be sure of.
func (s *simple) exec(v any) (string, bool) {
	var b strings.Builder
	root := reflect.ValueOf(v)
	for _, p := range s.parts {
		if !p.action {
			b.WriteString(p.text)
			continue
		}
		x, ok := walk(root, p.chain)
		if !ok {
			return "", false
		}
		if p.json {
			out, err := JSON(x.Interface())
			if err != nil {
				return "", false
			}
			b.WriteString(out)
			continue
		}
		out, ok := printable(x)
		if !ok {
			return "", false
		}
		b.WriteString(out)
	}
	return b.String(), true
}

// walk follows chain from v as text/template does for fields of structs
// and keys of maps. It gives up where text/template would call a method
// (a type with methods), fail (a nil pointer, a missing field) or print
// "<no value>" (a missing key): the helper says what then.
func walk(v reflect.Value, chain []string) (reflect.Value, bool) {
	if !v.IsValid() {
		return v, false
	}
	for _, name := range chain {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			f, ok := v.Type().FieldByName(name)
			// A field of the struct itself cannot share its name with a
			// method; a promoted one could lose to a method of the outer
			// type, which text/template would call.
			if !ok || !f.IsExported() || len(f.Index) > 1 && hasMethods(v.Type()) {
				return v, false
			}
			x, err := v.FieldByIndexErr(f.Index)
			if err != nil {
				return v, false
			}
			v = x
		case reflect.Map:
			if v.Type().Key().Kind() != reflect.String || hasMethods(v.Type()) {
				return v, false
			}
			x := v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key()))
			if !x.IsValid() {
				return v, false
			}
			v = x
		default:
			return v, false
		}
	}
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return v, false
		}
		v = v.Elem()
	}
	return v, true
}

// printable is x as text/template prints it, for a string, number or
// bool whose type has no methods (no String to call): fmt's %v.
func printable(x reflect.Value) (string, bool) {
	switch x.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
	default:
		return "", false
	}
	if hasMethods(x.Type()) {
		return "", false
	}
	return fmt.Sprint(x.Interface()), true
}

// hasMethods: t or *t has exported methods. NumMethod, unlike Method and
// MethodByName, leaves the linker free to drop unused methods.
func hasMethods(t reflect.Type) bool {
	return t.NumMethod() > 0 || t.Kind() != reflect.Interface && reflect.PointerTo(t).NumMethod() > 0
}
