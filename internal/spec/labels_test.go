package spec_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
)

func TestParseLabels(t *testing.T) {
	file := filepath.Join(t.TempDir(), "labels")
	os.WriteFile(file, []byte("# comment\na=from-file\nb=2\n\nflag\n"), 0o644)
	got, err := spec.ParseLabels([]string{"a=cli", "c=x=y"}, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "cli", "b": "2", "flag": "", "c": "x=y"}
	if len(got) != len(want) {
		t.Fatalf("labels %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s=%q, want %q", k, got[k], v)
		}
	}
	if _, err := spec.ParseLabels([]string{"=x"}, nil); err == nil {
		t.Error("an empty label key was accepted")
	}
	if _, err := spec.ParseLabels(nil, []string{filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Error("a missing label file was accepted")
	}
	if _, err := spec.ParseKeyValues("annotation", []string{"novalue"}); err == nil {
		t.Error("an annotation without = was accepted")
	}
}

func TestAnnotations(t *testing.T) {
	o := runOpts(t)
	o.Annotations = map[string]string{"org.example": "x"}
	if s := mustFromRunOptions(t, o); s.Annotations["org.example"] != "x" {
		t.Errorf("annotations %v", s.Annotations)
	}
}
