package image

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
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

// Platform parses an os/arch[/variant] or returns the host's, with the
// variant Go was built for (GOARM) on arm, and v8 on arm64 as Docker does.
func Platform(s string) (v1.Platform, error) {
	if s != "" {
		return ParsePlatform(s)
	}
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm64":
		p.Variant = "v8"
	case "arm":
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, kv := range bi.Settings {
				if kv.Key == "GOARM" {
					p.Variant = "v" + strings.SplitN(kv.Value, ",", 2)[0]
				}
			}
		}
	}
	return p, nil
}

// MatchPlatform picks the index entry for want: same OS and architecture,
// the same variant preferred, then one without a variant.
func MatchPlatform(ds []v1.Descriptor, want v1.Platform) (v1.Descriptor, error) {
	variant := func(p *v1.Platform) string {
		if p.Architecture == "arm64" && p.Variant == "" {
			return "v8"
		}
		return p.Variant
	}
	var loose *v1.Descriptor
	var seen []string
	for i, d := range ds {
		p := d.Platform
		if p == nil {
			continue
		}
		seen = append(seen, strconv.Quote(p.String()))
		if p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if variant(p) == variant(&want) {
			return d, nil
		}
		if loose == nil && (p.Variant == "" || want.Variant == "") {
			loose = &ds[i]
		}
	}
	if loose != nil {
		return *loose, nil
	}
	if seen == nil {
		seen = []string{"none"}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: want %s, have %s", ErrNoPlatform, want.String(), strings.Join(seen, ", "))
}
