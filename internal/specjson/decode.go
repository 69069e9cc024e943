package specjson

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// maxDepth bounds the nesting this decoder follows (and so its
// recursion); deeper input goes to encoding/json, whose own limit is
// 10000.
const maxDepth = 1000

// Unmarshal decodes data into v, a non-nil pointer to a zero value,
// exactly as json.Unmarshal would, and reports true. It reports false,
// having reset *v to its zero value, when the input needs something this
// decoder leaves to encoding/json, including every input json.Unmarshal
// rejects: the caller then decodes with encoding/json, which also gives
// the error's text. A *v that is not zero is left alone, with false.
func Unmarshal(data []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Elem().IsZero() {
		return false
	}
	d := decoder{data: data}
	if d.value(rv.Elem()) && d.atEnd() {
		return true
	}
	rv.Elem().SetZero()
	return false
}

type decoder struct {
	data  []byte
	pos   int
	depth int
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) atEnd() bool {
	d.skipSpace()
	return d.pos == len(d.data)
}

// peek returns the next byte after white space, 0 at the end.
func (d *decoder) peek() byte {
	d.skipSpace()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *decoder) enter() bool {
	d.depth++
	return d.depth <= maxDepth
}

// value decodes the next value into v, which is addressable and zero.
func (d *decoder) value(v reflect.Value) bool {
	c := d.peek()
	ti := infoOf(v.Type())
	if ti.customDecode || v.Kind() == reflect.Interface {
		return d.delegate(v)
	}
	if c == 'n' {
		// null leaves v as it is: zero (encoding/json sets pointers,
		// maps, slices and interfaces to nil, and ignores it elsewhere).
		return d.literal("null")
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		if !d.value(e.Elem()) {
			return false
		}
		v.Set(e)
		return true
	case reflect.Struct:
		return ti.plainStruct && c == '{' && d.object(v, ti)
	case reflect.Map:
		return ti.plainMapKey && c == '{' && d.mapObject(v)
	case reflect.Slice:
		return v.Type().Elem().Kind() != reflect.Uint8 && c == '[' && d.array(v)
	case reflect.String:
		s, ok := d.str()
		if ok {
			v.SetString(s)
		}
		return ok
	case reflect.Bool:
		switch c {
		case 't':
			v.SetBool(true)
			return d.literal("true")
		case 'f':
			return d.literal("false")
		}
		return false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		tok, ok := d.integer()
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return false
		}
		v.SetInt(n)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		tok, ok := d.integer()
		if !ok {
			return false
		}
		n, err := strconv.ParseUint(tok, 10, 64)
		if err != nil || v.OverflowUint(n) {
			return false
		}
		v.SetUint(n)
		return true
	}
	return false
}

// delegate hands the next value to json.Unmarshal, for the types whose
// decoding is theirs (unmarshalers) or that this decoder does not build
// (what an interface{} holds).
func (d *decoder) delegate(v reflect.Value) bool {
	d.skipSpace()
	start := d.pos
	if !d.skip() {
		return false
	}
	if v.Kind() == reflect.Interface && v.NumMethod() != 0 && !infoOf(v.Type()).customDecode {
		return false
	}
	return json.Unmarshal(d.data[start:d.pos], v.Addr().Interface()) == nil
}

// object decodes a JSON object into the struct v.
func (d *decoder) object(v reflect.Value, ti *typeInfo) bool {
	closed, ok := d.open('}')
	var seen uint64
	for ok && !closed {
		key, found := d.key()
		if !found {
			return false
		}
		i := fieldIndex(ti.fields, key)
		switch {
		case i >= 0:
			// A repeated key merges into the first's value in
			// encoding/json: left to it.
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			if !d.value(v.FieldByIndex(ti.fields[i].index)) {
				return false
			}
		case foldMatches(ti.fields, key):
			return false
		default:
			d.skipSpace()
			if !d.skip() {
				return false
			}
		}
		closed, ok = d.next('}')
	}
	return ok
}

// open steps into the object or array at d.pos; closed reports that it
// ended at once ("{}", "[]"), and not ok that it nests too deep.
func (d *decoder) open(end byte) (closed, ok bool) {
	d.pos++
	if !d.enter() {
		return false, false
	}
	if d.peek() == end {
		d.pos++
		d.depth--
		return true, true
	}
	return false, true
}

// next steps past the ',' before the next element or the end that
// closes the object or array; any other byte is not ok.
func (d *decoder) next(end byte) (closed, ok bool) {
	switch d.peek() {
	case ',':
		d.pos++
		return false, true
	case end:
		d.pos++
		d.depth--
		return true, true
	}
	return false, false
}

// key reads an object's key and the ':' after it.
func (d *decoder) key() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	key, ok := d.str()
	if !ok || d.peek() != ':' {
		return "", false
	}
	d.pos++
	return key, true
}

func fieldIndex(fields []field, key string) int {
	for i := range fields {
		if fields[i].name == key {
			return i
		}
	}
	return -1
}

// foldMatches reports whether encoding/json would match key to a field
// case-insensitively.
func foldMatches(fields []field, key string) bool {
	folded := string(foldName([]byte(key)))
	for i := range fields {
		if string(foldName([]byte(fields[i].name))) == folded {
			return true
		}
	}
	return false
}

// mapObject decodes a JSON object into the map v (string keys).
func (d *decoder) mapObject(v reflect.Value) bool {
	t := v.Type()
	m := reflect.MakeMap(t)
	closed, ok := d.open('}')
	for ok && !closed {
		key, found := d.key()
		if !found {
			return false
		}
		elem := reflect.New(t.Elem()).Elem()
		if !d.value(elem) {
			return false
		}
		k := reflect.New(t.Key()).Elem()
		k.SetString(key)
		m.SetMapIndex(k, elem)
		closed, ok = d.next('}')
	}
	if ok {
		v.Set(m)
	}
	return ok
}

// array decodes a JSON array into the slice v.
func (d *decoder) array(v reflect.Value) bool {
	s := reflect.MakeSlice(v.Type(), 0, 0)
	zero := reflect.Zero(v.Type().Elem())
	closed, ok := d.open(']')
	for ok && !closed {
		s = reflect.Append(s, zero)
		if !d.value(s.Index(s.Len() - 1)) {
			return false
		}
		closed, ok = d.next(']')
	}
	if ok {
		v.Set(s)
	}
	return ok
}

// str reads a string token. Plain ASCII is taken as it is; a token with
// escapes or other bytes is unquoted by encoding/json (surrogates,
// invalid UTF-8 and all), which costs little for a string.
func (d *decoder) str() (string, bool) {
	start := d.pos
	plain, ok := d.scanString()
	if !ok {
		return "", false
	}
	if plain {
		return string(d.data[start+1 : d.pos-1]), true
	}
	var s string
	if json.Unmarshal(d.data[start:d.pos], &s) != nil {
		return "", false
	}
	return s, true
}

// scanString validates the string token at d.pos and moves past it;
// plain reports that it has neither escapes nor bytes above ASCII.
func (d *decoder) scanString() (plain, ok bool) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return false, false
	}
	plain = true
	for i := d.pos + 1; i < len(d.data); i++ {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return plain, true
		case c < 0x20:
			return false, false
		case c >= 0x80:
			plain = false
		case c == '\\':
			plain = false
			i++
			if i >= len(d.data) {
				return false, false
			}
			switch d.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d.data) {
					return false, false
				}
				for _, h := range d.data[i+1 : i+5] {
					if !isHex(h) {
						return false, false
					}
				}
				i += 4
			default:
				return false, false
			}
		}
	}
	return false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number validates the number token at d.pos and moves past it;
// integer reports that it has neither fraction nor exponent.
func (d *decoder) number() (integer, ok bool) {
	data, i := d.data, d.pos
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return false, false
	}
	integer = true
	if i < len(data) && data[i] == '.' {
		integer = false
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return false, false
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		integer = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return false, false
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	d.pos = i
	return integer, true
}

// integer reads a number token that must be an integer.
func (d *decoder) integer() (string, bool) {
	start := d.pos
	integer, ok := d.number()
	if !ok || !integer {
		return "", false
	}
	return string(d.data[start:d.pos]), true
}

func (d *decoder) literal(lit string) bool {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return false
	}
	d.pos += len(lit)
	return true
}

// skip validates the value at d.pos (white space already skipped) and
// moves past it.
func (d *decoder) skip() bool {
	if d.pos >= len(d.data) {
		return false
	}
	switch c := d.data[d.pos]; c {
	case '{':
		return d.skipComposite('}', true)
	case '[':
		return d.skipComposite(']', false)
	case '"':
		_, ok := d.scanString()
		return ok
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		if c == '-' || isDigit(c) {
			_, ok := d.number()
			return ok
		}
		return false
	}
}

// skipComposite validates an object (keyed) or an array.
func (d *decoder) skipComposite(end byte, keyed bool) bool {
	closed, ok := d.open(end)
	for ok && !closed {
		if keyed {
			d.skipSpace()
			if _, ok := d.scanString(); !ok || d.peek() != ':' {
				return false
			}
			d.pos++
		}
		d.skipSpace()
		if !d.skip() {
			return false
		}
		closed, ok = d.next(end)
	}
	return ok
}
