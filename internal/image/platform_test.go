package image

import (
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestParsePlatform: --platform in Docker's forms: a bare OS or
// architecture takes the host's other part, and the architectures'
// other names are normalized.
func TestParsePlatform(t *testing.T) {
	for s, want := range map[string]v1.Platform{
		"linux/arm64":    {OS: "linux", Architecture: "arm64"},
		"linux/arm/v7":   {OS: "linux", Architecture: "arm", Variant: "v7"},
		"LINUX/X86_64":   {OS: "linux", Architecture: "amd64"},
		"aarch64":        {OS: runtime.GOOS, Architecture: "arm64"},
		"amd64":          {OS: runtime.GOOS, Architecture: "amd64"},
		"linux":          {OS: "linux", Architecture: runtime.GOARCH},
		"windows":        {OS: "windows", Architecture: runtime.GOARCH},
		"linux/armhf":    {OS: "linux", Architecture: "arm", Variant: "v7"},
		"windows/x86-64": {OS: "windows", Architecture: "amd64"},
	} {
		got, err := ParsePlatform(s)
		if err != nil || got.OS != want.OS || got.Architecture != want.Architecture || got.Variant != want.Variant {
			t.Errorf("%q: %+v %v, want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "/", "linux/", "/amd64", "a/b/c/d"} {
		if p, err := ParsePlatform(s); err == nil {
			t.Errorf("%q: %+v, want an error", s, p)
		}
	}
}
