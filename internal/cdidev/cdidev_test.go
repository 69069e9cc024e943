package cdidev

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const gpuSpec = `{"cdiVersion": "0.6.0", "kind": "nvidia.com/gpu", "devices": [
  {"name": "0", "containerEdits": {"env": ["GPU0=1"]}},
  {"name": "1", "containerEdits": {"env": ["GPU1=1"]}}]}`

func TestGPUs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nvidia.json"), []byte(gpuSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	for gpus, want := range map[string][]string{
		"all": {"GPU0=1", "GPU1=1"}, "1": {"GPU0=1"}, "2": {"GPU0=1", "GPU1=1"},
		"device=1": {"GPU1=1"}, `"device=0,1"`: {"GPU0=1", "GPU1=1"},
	} {
		s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}
		if err := Inject(s, []string{dir}, nil, gpus); err != nil {
			t.Errorf("--gpus %s: %v", gpus, err)
			continue
		}
		for _, env := range want {
			if !slices.Contains(s.Process.Env, env) {
				t.Errorf("--gpus %s: env %v, want %v", gpus, s.Process.Env, want)
			}
		}
	}
	for gpus, want := range map[string]string{"3": "have 2 GPUs", "none": "invalid --gpus", "device=7": "no CDI spec"} {
		s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}
		if err := Inject(s, []string{dir}, nil, gpus); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--gpus %s: %v, want %q", gpus, err, want)
		}
	}
	err := Inject(&specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}, []string{t.TempDir()}, nil, "all")
	if err == nil || err.Error() != "--gpus: no CDI spec for nvidia.com/gpu; generate one with nvidia-ctk cdi generate" {
		t.Errorf("no spec: %v", err)
	}
}
