package image

import (
	"testing"
)

func TestRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"": "index.docker.io", "docker.io": "index.docker.io", "https://index.docker.io/v1/": "index.docker.io",
		"localhost:5000": "localhost:5000", "https://reg.example/": "reg.example",
	} {
		r, err := RegistryHost(in)
		if err != nil || r != want {
			t.Errorf("RegistryHost(%q) = %v %v, want %s", in, r, err, want)
		}
	}
	for _, bad := range []string{"a b", "reg.example/path/x", "UPPER_case!"} {
		if _, err := RegistryHost(bad); err == nil {
			t.Errorf("RegistryHost(%q) accepted", bad)
		}
	}
}
