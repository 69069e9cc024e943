package specjson_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/internal/specjson"
)

// FuzzUnmarshal: whatever specjson takes, encoding/json takes and decodes
// the same; whatever encoding/json decodes, both encoders write the same.
func FuzzUnmarshal(f *testing.F) {
	for _, b := range configs(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"ociVersion":"1","process":{"user":{"uid":1}},"annotations":{"a":"b"},"windows":{"credentialSpec":[1]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var std, fast specs.Spec
		stdErr := json.Unmarshal(data, &std)
		if specjson.Unmarshal(data, &fast) {
			if stdErr != nil {
				t.Fatalf("took input json.Unmarshal rejects: %v", stdErr)
			}
			if !reflect.DeepEqual(std, fast) {
				t.Fatalf("decoded differently:\nstd  %+v\nfast %+v", std, fast)
			}
		} else if !reflect.ValueOf(fast).IsZero() {
			t.Fatalf("fell back leaving %+v", fast)
		}
		if stdErr != nil {
			return
		}
		want, wantErr := json.Marshal(&std)
		got, err := specjson.Marshal(&std)
		if (wantErr == nil) != (err == nil) || !bytes.Equal(want, got) {
			t.Fatalf("encoded differently:\nstd  %s (%v)\nfast %s (%v)", want, wantErr, got, err)
		}
	})
}
