package specjson_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/specjson"
)

// configs are the real configs the tests decode: the testdata files
// (runc spec, runc spec --rootless, crun spec) and berth's own default.
func configs(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	b, err := json.Marshal(spec.Default("/rootfs", []string{"sh", "-c", "echo <hi> & \"bye\""}))
	if err != nil {
		t.Fatal(err)
	}
	out["berth-default"] = b
	if len(out) < 4 {
		t.Fatalf("only %d configs", len(out))
	}
	return out
}

// sameDecode decodes data with both decoders into fresh T values and
// reports whether specjson took it (true) with the result of encoding/json.
func sameDecode[T any](t *testing.T, name string, data []byte) bool {
	t.Helper()
	var std, fast T
	stdErr := json.Unmarshal(data, &std)
	ok := specjson.Unmarshal(data, &fast)
	if !ok {
		if !reflect.ValueOf(fast).IsZero() {
			t.Errorf("%s: Unmarshal reported false but left %+v", name, fast)
		}
		return false
	}
	if stdErr != nil {
		t.Errorf("%s: specjson took input json.Unmarshal rejects (%v)", name, stdErr)
		return true
	}
	if !reflect.DeepEqual(std, fast) {
		t.Errorf("%s: decoded differently:\nstd  %.2000s\nfast %.2000s", name, fmt.Sprintf("%+v", std), fmt.Sprintf("%+v", fast))
	}
	return true
}

func sameEncode(t *testing.T, name string, v any) []byte {
	t.Helper()
	std, stdErr := json.Marshal(v)
	fast, err := specjson.Marshal(v)
	if (stdErr == nil) != (err == nil) || stdErr != nil && stdErr.Error() != err.Error() {
		t.Fatalf("%s: errors differ: std %v, specjson %v", name, stdErr, err)
	}
	if !bytes.Equal(std, fast) {
		t.Fatalf("%s: encoded differently:\nstd  %.2000s\nfast %.2000s", name, std, fast)
	}
	return std
}

func TestRealConfigs(t *testing.T) {
	for name, b := range configs(t) {
		if !sameDecode[specs.Spec](t, name, b) {
			t.Errorf("%s: a real config fell back to encoding/json", name)
		}
		var s specs.Spec
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		sameEncode(t, name, &s)
		sameEncode(t, name+" process", s.Process)
		if !sameDecode[specs.Process](t, name+" process", mustMarshal(t, s.Process)) {
			t.Errorf("%s: its process fell back to encoding/json", name)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryField fills every field of specs.Spec's type tree, with
// values at the edges of their types, and with empty ones.
func TestEveryField(t *testing.T) {
	for _, variant := range []fillVariant{fillMax, fillMin, fillEmpty} {
		var s specs.Spec
		fill(reflect.ValueOf(&s).Elem(), variant, 0)
		b := sameEncode(t, variant.String(), &s)
		if !sameDecode[specs.Spec](t, variant.String(), b) {
			t.Errorf("%s: fell back to encoding/json:\n%.2000s", variant, b)
		}
		if variant != fillEmpty && !bytes.Contains(b, []byte(`"credentialSpec":{"k":[1.5,"s",true,null]}`)) {
			t.Errorf("%s: a field is missing:\n%.2000s", variant, b)
		}
		var st specs.State
		fill(reflect.ValueOf(&st).Elem(), variant, 0)
		sameDecode[specs.State](t, variant.String()+" state", sameEncode(t, variant.String()+" state", st))
	}
}

type fillVariant int

const (
	fillMax fillVariant = iota
	fillMin
	fillEmpty
)

func (f fillVariant) String() string { return [...]string{"max", "min", "empty"}[f] }

// awkward is a string with every kind of byte the encoder escapes.
const awkward = "a<b>&c\"d\\e\x01\x1f\b\f\n\r\t\x7f é \u2028\u2029 😀 /"

// fill sets every field reachable from v by reflection.
func fill(v reflect.Value, variant fillVariant, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if depth > 20 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), variant, depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), variant, depth+1)
			}
		}
	case reflect.Slice:
		n := 2
		if variant == fillEmpty {
			n = 0
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := 0; i < n; i++ {
			fill(v.Index(i), variant, depth+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		if variant == fillEmpty {
			return
		}
		for _, k := range []string{"zeta", awkward, "alpha", ""} {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, variant, depth+1)
			key := reflect.New(v.Type().Key()).Elem()
			key.SetString(k)
			v.SetMapIndex(key, e)
		}
	case reflect.String:
		if variant == fillMax {
			v.SetString(awkward)
		} else if variant == fillMin {
			v.SetString("plain")
		}
	case reflect.Bool:
		v.SetBool(variant != fillEmpty)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		switch variant {
		case fillMax:
			v.SetInt(math.MaxInt64 >> (64 - bits))
		case fillMin:
			v.SetInt(math.MinInt64 >> (64 - bits))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		switch variant {
		case fillMax:
			v.SetUint(math.MaxUint64 >> (64 - v.Type().Bits()))
		case fillMin:
			v.SetUint(1)
		}
	case reflect.Interface:
		if variant != fillEmpty {
			v.Set(reflect.ValueOf(map[string]any{"k": []any{1.5, "s", true, nil}}))
		}
	default:
		panic("fill: no values for " + v.Type().String())
	}
}

func TestUnmarshalFallsBack(t *testing.T) {
	deep := strings.Repeat(`[`, 1500) + strings.Repeat(`]`, 1500)
	for _, tc := range []struct{ name, in string }{
		{"empty", ``},
		{"case-folded key", `{"ociversion":"1.0.0"}`},
		{"kelvin-folded key", `{"hostname":"a","linux":{"sysctl":{}},"hoo\u212As":1}`},
		{"duplicate key", `{"ociVersion":"1.0.0","ociVersion":"1.0.1"}`},
		{"duplicate escaped key", `{"hostname":"a","host\u006eame":"b"}`},
		{"fraction into int", `{"process":{"user":{"uid":1.0}}}`},
		{"exponent into int", `{"process":{"user":{"uid":1e3}}}`},
		{"overflow", `{"process":{"user":{"uid":4294967296}}}`},
		{"overflow int64", `{"linux":{"resources":{"memory":{"limit":9223372036854775808}}}}`},
		{"negative into unsigned", `{"process":{"user":{"uid":-1}}}`},
		{"minus zero into unsigned", `{"process":{"user":{"uid":-0}}}`},
		{"leading zero", `{"process":{"user":{"uid":01}}}`},
		{"string into int", `{"process":{"user":{"uid":"1"}}}`},
		{"int into string", `{"ociVersion":1}`},
		{"object into string", `{"ociVersion":{}}`},
		{"array into struct", `{"process":[]}`},
		{"bool into int", `{"process":{"user":{"uid":true}}}`},
		{"trailing garbage", `{"ociVersion":"1.0.0"} x`},
		{"second value", `{} {}`},
		{"bad escape", `{"ociVersion":"\x"}`},
		{"short unicode escape", `{"ociVersion":"\u12"}`},
		{"control char", "{\"ociVersion\":\"a\tb\"}"},
		{"unterminated string", `{"ociVersion":"abc`},
		{"deep nesting", `{"x":` + deep + `}`},
		{"unknown field with invalid value", `{"x":[1,2,}`},
		{"unknown field with bad number", `{"x":-}`},
		{"unknown field with bad literal", `{"x":nul}`},
		{"unknown field with bad string", `{"x":"\q"}`},
		{"missing colon", `{"ociVersion" "1"}`},
		{"trailing comma", `{"ociVersion":"1",}`},
		{"literal run-on", `{"linux":{"resources":{"disableOOMKiller":truex}}}`},
		{"bare minus", `{"process":{"user":{"uid":-}}}`},
		{"dot without digits", `{"x":1.}`},
		{"bytes", `{"windows":{"devices":[]}, "vm":{"hypervisor":{"path":"p"}}, "x":"y", "process":{"rlimits":[{"type":"a","hard":1,"soft":2}]}, "y": [1]}` + "\x00"},
		{"bom", "\xef\xbb\xbf{}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s specs.Spec
			if specjson.Unmarshal([]byte(tc.in), &s) {
				t.Fatalf("took %q", tc.in)
			}
			if !reflect.ValueOf(s).IsZero() {
				t.Fatalf("left %+v", s)
			}
		})
	}
}

func TestUnmarshalTakes(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty object", `{}`},
		{"top-level null", `null`},
		{"white space", " \t\r\n{ \"ociVersion\" :\t\"1.0.0\" \n} \r\n"},
		{"unknown fields with nested values", `{"x":{"a":[1,-2.5e+3,true,false,null,"s\n",{"b":{}}]},"ociVersion":"1","y":[],"z":{}}`},
		{"unknown case-distinct field", `{"nothing":1}`},
		{"escaped strings", `{"ociVersion":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\u2028"}`},
		{"lone surrogate", `{"ociVersion":"\ud800x"}`},
		{"utf-8", `{"hostname":"héllo 😀"}`},
		{"invalid utf-8", "{\"hostname\":\"a\xff\xfeb\"}"},
		{"escaped key", `{"host\u006eame":"a"}`},
		{"nulls", `{"process":null,"root":null,"mounts":null,"annotations":null,"hostname":null,"linux":{"sysctl":null,"uidMappings":null,"resources":{"memory":{"limit":null,"swappiness":null}}}}`},
		{"null interface", `{"windows":{"credentialSpec":null}}`},
		{"interface values", `{"windows":{"credentialSpec":{"a":[1.5,"x",{"b":null}]}}}`},
		{"interface number", `{"windows":{"credentialSpec":12345678901234567890}}`},
		{"empty arrays", `{"mounts":[],"process":{"args":[],"env":[]}}`},
		{"empty maps", `{"annotations":{},"linux":{"sysctl":{}}}`},
		{"map duplicate keys", `{"annotations":{"a":"1","b":"2","a":"3"}}`},
		{"integers at limits", `{"process":{"user":{"uid":4294967295,"gid":0},"oomScoreAdj":-2147483648},"linux":{"resources":{"memory":{"limit":-9223372036854775808,"swap":9223372036854775807,"swappiness":18446744073709551615}}}}`},
		{"minus zero", `{"linux":{"resources":{"memory":{"limit":-0}}}}`},
		{"bools", `{"process":{"terminal":true,"noNewPrivileges":false}}`},
		{"array elements with nulls", `{"mounts":[null,{"destination":"/x"}]}`},
		{"pointer chain null", `{"linux":{"resources":{"cpu":null}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !sameDecode[specs.Spec](t, tc.name, []byte(tc.in)) {
				t.Fatalf("fell back on %q", tc.in)
			}
		})
	}
}

func TestUnmarshalNonZeroTarget(t *testing.T) {
	s := specs.Spec{Hostname: "kept"}
	if specjson.Unmarshal([]byte(`{}`), &s) || s.Hostname != "kept" {
		t.Fatalf("decoded into a non-zero value: %+v", s)
	}
	if specjson.Unmarshal([]byte(`{}`), nil) || specjson.Unmarshal([]byte(`{}`), specs.Spec{}) {
		t.Fatal("took a target that is not a pointer")
	}
}

func TestMarshalStrings(t *testing.T) {
	var all []byte
	for b := 0; b < 0x80; b++ {
		all = append(all, byte(b))
	}
	for _, s := range []string{string(all), awkward, "\xff", "a\xe2\x80", "\xed\xa0\x80", "\u2028x\u2029", ""} {
		sameEncode(t, "string", s)
		sameEncode(t, "annotations", &specs.Spec{Hostname: s, Annotations: map[string]string{s: s, "b": ""}})
	}
}

// Types encoding/json treats specially, which specjson hands back to it.
type (
	textKey  string
	mText    struct{ A int }
	mJSON    struct{ A int }
	embedded struct {
		mJSON
		B int
	}
	unusual struct {
		F        float64
		F32      float32 `json:"f32,omitempty"`
		Bytes    []byte
		Array    [2]int
		PtrText  mText
		ValJSON  mJSON
		PtrJSON  *mJSON
		TextKeys map[textKey]int
		IntKeys  map[int]string
		Str      int `json:",string"`
		Zero     int `json:",omitzero"`
		Num      json.Number
		Emb      embedded
		Iface    any
		Skip     int `json:"-"`
		Dash     int `json:"-,"`
		Odd      int `json:"a b"`
		private  int
	}
)

func (m *mText) MarshalText() ([]byte, error)  { return []byte("text"), nil }
func (m mJSON) MarshalJSON() ([]byte, error)   { return []byte(` { "custom" : 1 } `), nil }
func (k textKey) MarshalText() ([]byte, error) { return []byte("k" + k), nil }

func TestMarshalHandsBack(t *testing.T) {
	u := unusual{F: 1e21, F32: 0.1, Bytes: []byte("<>"), Array: [2]int{1, 2}, TextKeys: map[textKey]int{"b": 1, "a": 2},
		IntKeys: map[int]string{10: "x", 9: "y"}, Str: 5, Num: "12.5", Iface: &mText{}, Dash: 3, Odd: 4, private: 1}
	sameEncode(t, "by pointer", &u)
	sameEncode(t, "by value", u)
	sameEncode(t, "in a map", map[string]unusual{"x": u})
	sameEncode(t, "in a slice", []unusual{u})
	sameEncode(t, "nil", nil)
	sameEncode(t, "error", map[string]any{"f": func() {}})
	sameEncode(t, "NaN", &specs.Spec{Windows: &specs.Windows{CredentialSpec: math.NaN()}})
	type cycle struct{ Next *cycle }
	c := &cycle{}
	c.Next = c
	sameEncode(t, "cycle", c)
}

func TestUnmarshalHandsBack(t *testing.T) {
	in := `{"F":1.5,"Bytes":"PD4=","Array":[1,2],"TextKeys":{"a":1},"IntKeys":{"1":"x"},"Str":"5","Num":12.5,"Emb":{"B":1},"Iface":{"a":1}}`
	var u unusual
	if specjson.Unmarshal([]byte(in), &u) {
		t.Fatal("took a float, []byte, array, embedded field and string option")
	}
	type simple struct {
		A  int
		B  string `json:"b,omitempty"`
		PB *bool
		I  any
	}
	sameDecode[simple](t, "untagged", []byte(`{"A":1,"b":"x","PB":false,"I":[1,"2"]}`))
	if sameDecode[simple](t, "folded untagged", []byte(`{"a":1}`)) {
		t.Error("took a case-folded key")
	}
	type (
		inner  struct{ A, B int }
		Outer  struct{ C int }
		nested struct {
			inner
			Outer
			D int `json:"d"`
		}
		ptrEmbedded struct {
			*Outer
			D int
		}
		shadowed struct {
			inner
			A string
		}
		stringer struct{ S fmt.Stringer }
	)
	if !sameDecode[nested](t, "embedded", []byte(`{"A":1,"B":2,"C":3,"d":4}`)) {
		t.Error("fell back on embedded structs")
	}
	sameEncode(t, "embedded", nested{inner{1, 2}, Outer{3}, 4})
	for _, in := range []string{`{"C":1}`, `{"A":"x"}`} {
		if sameDecode[ptrEmbedded](t, "embedded pointer", []byte(in)) || sameDecode[shadowed](t, "shadowed", []byte(in)) {
			t.Errorf("took %s into an embedded pointer or a shadowed field", in)
		}
	}
	sameEncode(t, "embedded pointer", ptrEmbedded{&Outer{1}, 2})
	sameEncode(t, "embedded nil pointer", ptrEmbedded{nil, 2})
	sameEncode(t, "shadowed", shadowed{inner{1, 2}, "x"})
	if sameDecode[stringer](t, "non-empty interface", []byte(`{"S":null}`)) {
		t.Error("took a non-empty interface")
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	data := configs(b)["berth-default"]
	b.Run("specjson", func(b *testing.B) {
		for b.Loop() {
			var s specs.Spec
			if !specjson.Unmarshal(data, &s) {
				b.Fatal("fell back")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var s specs.Spec
			if err := json.Unmarshal(data, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	var s specs.Spec
	if err := json.Unmarshal(configs(b)["berth-default"], &s); err != nil {
		b.Fatal(err)
	}
	b.Run("specjson", func(b *testing.B) {
		for b.Loop() {
			if _, err := specjson.Marshal(&s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(&s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
