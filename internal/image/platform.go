package image

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ParsePlatform reads --platform as Docker (containerd's platforms
// package) does: os[/arch[/variant]], or a bare os or architecture (the
// other part the host's), in any case, with the architectures' other
// names (x86_64, aarch64, ...) normalized.
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(strings.ToLower(s))
	if err != nil {
		return v1.Platform{}, fmt.Errorf("invalid platform %q: %w", s, err)
	}
	if p.OS == "" || (strings.Contains(s, "/") && p.Architecture == "") {
		return v1.Platform{}, fmt.Errorf("invalid platform %q: use os[/arch[/variant]], e.g. linux/%s", s, runtime.GOARCH)
	}
	if p.Architecture == "" && !knownOS(p.OS) {
		// A bare architecture, of this host's OS.
		p.OS, p.Architecture = runtime.GOOS, p.OS
	}
	if p.Architecture == "" {
		p.Architecture = runtime.GOARCH
	}
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "i386":
		p.Architecture = "386"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	return *p, nil
}

// knownOS is whether s names an operating system images are made for.
func knownOS(s string) bool {
	switch s {
	case "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix", "android", "ios", "plan9", "js", "wasip1", "dragonfly":
		return true
	}
	return false
}
