// Package specjson decodes and encodes the OCI runtime spec types
// (specs.Spec, specs.Process) with the results encoding/json gives, but
// without its first-use cost: encoding/json builds a decoder and an
// encoder for every type of specs.Spec's tree (some seventy structs) by
// reflection the first time it meets them, 2 to 3 ms in each berth-oci
// process, while the tables here are a few fields each, built lazily per
// struct type. Anything outside the common ground (floats, []byte,
// custom (un)marshalers, embedded fields, tag options other than
// omitempty, case-folded or duplicate keys) goes back to encoding/json,
// so that a result is always the one encoding/json gives.
package specjson

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// typeInfo is what the codec needs to know of one type.
type typeInfo struct {
	// customDecode: the type, or its pointer, implements json.Unmarshaler
	// or encoding.TextUnmarshaler, or it is json.Number.
	customDecode bool
	// customEncode: likewise for json.Marshaler or encoding.TextMarshaler.
	customEncode bool
	// plainStruct: a struct whose fields this package handles itself (no
	// embedded fields, no options but omitempty, distinct simple names).
	plainStruct bool
	fields      []field
	// plainMapKey: a map whose keys are of string kind and are not text
	// (un)marshalers.
	plainMapKey bool
}

// field is a struct field as encoding/json sees it.
type field struct {
	name      string
	index     []int // by reflect.Value.FieldByIndex (embedded structs)
	omitEmpty bool
	encName   string // `"name":`
}

// maxFields keeps the set of keys seen in one object a bitmask.
const maxFields = 64

var (
	infoMu    sync.RWMutex
	infoCache = map[reflect.Type]*typeInfo{}

	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	marshalerType       = reflect.TypeFor[json.Marshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

func infoOf(t reflect.Type) *typeInfo {
	infoMu.RLock()
	ti, ok := infoCache[t]
	infoMu.RUnlock()
	if ok {
		return ti
	}
	// Built outside the lock: two goroutines may both build one, and
	// either result is right.
	ti = buildInfo(t)
	infoMu.Lock()
	infoCache[t] = ti
	infoMu.Unlock()
	return ti
}

// hasMethods reports whether t or *t has any method: most types of the
// spec have none, and asking that is cheaper than Implements.
func hasMethods(t reflect.Type) bool {
	if t.NumMethod() > 0 {
		return true
	}
	switch {
	case t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface:
		return false
	case t.Name() == "" && t.Kind() != reflect.Struct:
		// Methods are declared on named types (or promoted into
		// structs).
		return false
	}
	return reflect.PointerTo(t).NumMethod() > 0
}

func implements(t reflect.Type, ifaces ...reflect.Type) bool {
	for _, i := range ifaces {
		if t.Implements(i) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(i)) {
			return true
		}
	}
	return false
}

func buildInfo(t reflect.Type) *typeInfo {
	ti := &typeInfo{}
	if t.Kind() != reflect.Interface && hasMethods(t) {
		ti.customDecode = t == numberType || implements(t, unmarshalerType, textUnmarshalerType)
		ti.customEncode = t == numberType || implements(t, marshalerType, textMarshalerType)
	}
	switch t.Kind() {
	case reflect.Struct:
		ti.fields, ti.plainStruct = structFields(t)
	case reflect.Map:
		k := t.Key()
		ti.plainMapKey = k.Kind() == reflect.String &&
			(!hasMethods(k) || !implements(k, textUnmarshalerType, textMarshalerType, unmarshalerType, marshalerType))
	}
	return ti
}

// structFields lists t's fields as encoding/json names them, or reports
// false when t has something this package leaves to encoding/json.
// Untagged embedded structs (not pointers) are flattened in declaration
// order, as encoding/json orders them; any name given twice, at any
// depth, is left to encoding/json and its rules of dominance.
func structFields(t reflect.Type) ([]field, bool) {
	var fields []field
	if !appendFields(&fields, t, nil) || len(fields) > maxFields {
		return nil, false
	}
	for i := range fields {
		for j := range i {
			if fields[i].name == fields[j].name {
				return nil, false
			}
		}
	}
	return fields, true
}

func appendFields(fields *[]field, t reflect.Type, parent []int) bool {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		index := append(slices.Clip(parent), i)
		tag := sf.Tag.Get("json")
		if sf.Anonymous {
			if sf.Type.Kind() != reflect.Struct || tag != "" || len(index) > 8 {
				return false
			}
			if !appendFields(fields, sf.Type, index) {
				return false
			}
			continue
		}
		if !sf.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		if !simpleName(name) {
			return false
		}
		f := field{name: name, index: index, encName: `"` + name + `":`}
		for opts != "" {
			var opt string
			opt, opts, _ = strings.Cut(opts, ",")
			switch opt {
			case "omitempty":
				f.omitEmpty = true
			case "string", "omitzero":
				return false
			}
		}
		*fields = append(*fields, f)
	}
	return true
}

// simpleName: a name that is a valid tag name for encoding/json and needs
// no escaping in JSON.
func simpleName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// foldName is encoding/json's (fold.go): ASCII letters upper-cased, other
// runes to the smallest of their fold set.
func foldName(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
