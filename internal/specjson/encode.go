package specjson

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxEncodeDepth bounds the nesting this encoder follows; deeper values
// (and cycles, which encoding/json reports) go to encoding/json whole.
const maxEncodeDepth = 200

// Marshal encodes v exactly as json.Marshal would, byte for byte, and
// with json.Marshal's error when it fails.
func Marshal(v any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 2048)}
	if !e.value(reflect.ValueOf(v), 0) {
		return json.Marshal(v)
	}
	return e.buf, nil
}

type encoder struct {
	buf []byte
}

// value appends v's encoding; false sends the whole value to
// encoding/json (a failure of a part, or a value too deep).
func (e *encoder) value(v reflect.Value, depth int) bool {
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return true
	}
	if depth > maxEncodeDepth {
		return false
	}
	ti := infoOf(v.Type())
	if ti.customEncode {
		return e.delegate(v)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return true
		}
		return e.value(v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return true
		}
		return e.delegate(v)
	case reflect.Struct:
		if !ti.plainStruct {
			return e.delegate(v)
		}
		return e.object(v, ti, depth)
	case reflect.Map:
		if !ti.plainMapKey {
			return e.delegate(v)
		}
		return e.mapObject(v, depth)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return e.delegate(v)
		}
		return e.array(v, depth)
	case reflect.String:
		e.buf = appendString(e.buf, v.String())
		return true
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
		return true
	}
	return e.delegate(v)
}

// delegate appends json.Marshal's encoding of v, which is the one it
// gives v inside its parent: an addressable v is passed by address, so
// that methods on the pointer apply as they do there.
func (e *encoder) delegate(v reflect.Value) bool {
	var x any
	switch {
	case v.CanAddr():
		x = v.Addr().Interface()
	case v.Kind() == reflect.Interface:
		x = v.Elem().Interface()
	default:
		x = v.Interface()
	}
	b, err := json.Marshal(x)
	if err != nil {
		return false
	}
	e.buf = append(e.buf, b...)
	return true
}

func (e *encoder) object(v reflect.Value, ti *typeInfo, depth int) bool {
	e.buf = append(e.buf, '{')
	first := true
	for i := range ti.fields {
		f := &ti.fields[i]
		fv := v.FieldByIndex(f.index)
		if f.omitEmpty && isEmptyValue(fv) {
			continue
		}
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.buf = append(e.buf, f.encName...)
		if !e.value(fv, depth+1) {
			return false
		}
	}
	e.buf = append(e.buf, '}')
	return true
}

func (e *encoder) mapObject(v reflect.Value, depth int) bool {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return true
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, k.String())
		e.buf = append(e.buf, ':')
		if !e.value(v.MapIndex(k), depth+1) {
			return false
		}
	}
	e.buf = append(e.buf, '}')
	return true
}

func (e *encoder) array(v reflect.Value, depth int) bool {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return true
	}
	e.buf = append(e.buf, '[')
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if !e.value(v.Index(i), depth+1) {
			return false
		}
	}
	e.buf = append(e.buf, ']')
	return true
}

// isEmptyValue is encoding/json's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

const hex = "0123456789abcdef"

// appendString quotes s as encoding/json does (its appendString with
// HTML escaping): short escapes for \b \f \n \r \t, \u00XX for other
// control bytes and < > &, U+2028 and U+2029 escaped, invalid UTF-8 as
// \ufffd.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
