package engine

import (
	"runtime"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/image"
)

// HostPlatform is the platform of the images berth runs here: os/arch.
func HostPlatform() string { return "linux/" + runtime.GOARCH }

// CheckPlatform accepts run's and create's --platform when it names this
// host's platform: os/arch[/variant], a bare architecture or a bare os,
// as Docker takes them. berth does not emulate other architectures.
func CheckPlatform(p string) error {
	if p == "" {
		return nil
	}
	parts := strings.Split(strings.ToLower(p), "/")
	ok := false
	switch len(parts) {
	case 1:
		ok = parts[0] == "linux" || parts[0] == runtime.GOARCH
	case 2, 3:
		ok = parts[0] == "linux" && parts[1] == runtime.GOARCH && (len(parts) == 2 || hostVariant(parts[2]))
	}
	if !ok {
		return errdefs.New(errdefs.ErrInvalidArgument, "berth runs %s images on this host; --platform %s needs emulation berth does not provide", HostPlatform(), p)
	}
	return nil
}

// hostVariant is whether v is the variant of this host's architecture
// that images name (arm64's v8; amd64 images name none, or v1..v4).
func hostVariant(v string) bool {
	switch runtime.GOARCH {
	case "arm64":
		return v == "v8"
	case "amd64":
		return v == "v1" || v == "v2" || v == "v3" || v == "v4"
	}
	return v != ""
}

// checkImagePlatform refuses an image made for another platform (pulled
// with pull --platform, or loaded): its programs would not run here. An
// image that names no platform is taken to be the host's.
func checkImagePlatform(ref string, ic *image.Config) error {
	os, arch := ic.OS, ic.Architecture
	if (os == "" || os == "linux") && (arch == "" || arch == runtime.GOARCH) {
		return nil
	}
	p := os + "/" + arch
	if ic.Variant != "" {
		p += "/" + ic.Variant
	}
	return errdefs.New(errdefs.ErrInvalidArgument, "image %s is for %s: berth runs %s images on this host, and does not emulate others (pull it again with --platform %s)", ref, p, HostPlatform(), HostPlatform())
}
