package engine

import (
	"fmt"
	"runtime"

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
	pl, err := image.ParsePlatform(p)
	if err == nil && (pl.OS != "linux" || pl.Architecture != runtime.GOARCH || !hostVariant(pl.Variant)) {
		err = fmt.Errorf("another platform")
	}
	if err != nil {
		return errdefs.New(errdefs.ErrInvalidArgument, "berth runs %s images on this host; --platform %s needs emulation berth does not provide", HostPlatform(), p)
	}
	return nil
}

// hostVariant is whether v ("" for none) names the variant of this
// host's architecture that images name: arm64's v8; amd64's v1 to v4,
// which this host is taken to run as Docker does.
func hostVariant(v string) bool {
	if v == "" {
		return true
	}
	switch runtime.GOARCH {
	case "arm64":
		return v == "v8"
	case "amd64":
		return v == "v1" || v == "v2" || v == "v3" || v == "v4"
	}
	return false
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
