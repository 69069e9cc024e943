package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// invalidOpt is a refused docker run option: one line, exit 125.
func invalidOpt(format string, args ...any) error {
	return errdefs.New(errdefs.ErrInvalidArgument, format, args...)
}

// NormalizeCaps reads --cap-add or --cap-drop as Docker does: ALL, or
// capability names with or without CAP_, in any case; each known to berth.
func NormalizeCaps(flag string, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		up := strings.ToUpper(strings.TrimSpace(n))
		if up != "ALL" {
			if _, err := caps.Parse(up); err != nil {
				return nil, invalidOpt("invalid --%s %q: unknown capability (use ALL, or a name such as NET_ADMIN or CAP_NET_ADMIN)", flag, n)
			}
			if !strings.HasPrefix(up, "CAP_") {
				up = "CAP_" + up
			}
		}
		if !slices.Contains(out, up) {
			out = append(out, up)
		}
	}
	return out, nil
}

// TweakCaps is Docker's capability rule (oci/caps.TweakCapabilities):
// --cap-add ALL is every capability less --cap-drop; --cap-drop ALL is
// --cap-add alone; otherwise the drops leave base, then the adds join.
func TweakCaps(base, add, drop []string) []string {
	var out []string
	keep := func(c string) {
		if c != "ALL" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	switch {
	case slices.Contains(add, "ALL"):
		for _, c := range AllCapabilities() {
			if !slices.Contains(drop, c) {
				keep(c)
			}
		}
	case slices.Contains(drop, "ALL"):
		for _, c := range add {
			keep(c)
		}
	default:
		for _, c := range base {
			if !slices.Contains(drop, c) {
				keep(c)
			}
		}
		for _, c := range add {
			keep(c)
		}
	}
	return out
}

// applyCaps sets the bounding set from --cap-add and --cap-drop; root
// holds them all, another user none effective (applyProcess), as Docker.
func applyCaps(s *specs.Spec, o RunOptions) error {
	if len(o.CapAdd) == 0 && len(o.CapDrop) == 0 {
		return nil
	}
	add, err := NormalizeCaps("cap-add", o.CapAdd)
	if err != nil {
		return err
	}
	drop, err := NormalizeCaps("cap-drop", o.CapDrop)
	if err != nil {
		return err
	}
	c := s.Process.Capabilities
	set := TweakCaps(c.Bounding, add, drop)
	c.Bounding = set
	if s.Process.User.UID == 0 {
		c.Effective, c.Permitted = set, set
	}
	return nil
}

// SecurityOpts are --security-opt values, parsed.
type SecurityOpts struct {
	// Seccomp is a profile's JSON (Docker's format), "unconfined", or
	// empty for berth's default.
	Seccomp string
	// NoNewPrivileges is set by no-new-privileges[=BOOL]; nil keeps
	// berth's default, which is on.
	NoNewPrivileges       *bool
	SystemPathsUnconfined bool
	Mask, Unmask          []string
	UnmaskAll             bool
}

// ParseSecurityOpts checks --security-opt values with Docker's syntax
// (KEY=VALUE, or the older KEY:VALUE). A seccomp profile must already be
// its content (ReadSeccompProfiles).
func ParseSecurityOpts(opts []string) (SecurityOpts, error) {
	var so SecurityOpts
	for _, opt := range opts {
		key, val, err := splitSecurityOpt(opt)
		if err != nil {
			return so, err
		}
		if err := so.set(key, val); err != nil {
			return so, err
		}
	}
	return so, nil
}

func splitSecurityOpt(opt string) (key, val string, err error) {
	if opt == "no-new-privileges" {
		return opt, "true", nil
	}
	key, val, ok := strings.Cut(opt, "=")
	if !ok {
		key, val, ok = strings.Cut(opt, ":")
	}
	if !ok {
		return "", "", invalidOpt("invalid --security-opt %q: use KEY=VALUE (seccomp, no-new-privileges, label, apparmor, systempaths, mask, unmask)", opt)
	}
	return key, val, nil
}

func (so *SecurityOpts) set(key, val string) error {
	switch key {
	case "seccomp":
		if val == "" {
			return invalidOpt("invalid --security-opt seccomp=: name a profile file, or unconfined")
		}
		so.Seccomp = val
	case "no-new-privileges":
		b, err := parseBool(val)
		if err != nil {
			return invalidOpt("invalid --security-opt no-new-privileges=%s: use true or false", val)
		}
		so.NoNewPrivileges = &b
	case "label":
		return checkLabel(val)
	case "apparmor":
		return checkAppArmor(val)
	case "systempaths":
		if val != "unconfined" {
			return invalidOpt("invalid --security-opt systempaths=%s: the only value is unconfined", val)
		}
		so.SystemPathsUnconfined = true
	case "mask", "unmask":
		return so.setMask(key, val)
	default:
		return invalidOpt("invalid --security-opt %s=%s: berth knows seccomp, no-new-privileges, label, apparmor, systempaths, mask and unmask", key, val)
	}
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "t", "yes":
		return true, nil
	case "false", "0", "f", "no":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

// setMask reads mask=PATH[:PATH...] and unmask=ALL|PATH[:PATH...], as
// podman's --security-opt: absolute paths only.
func (so *SecurityOpts) setMask(key, val string) error {
	if key == "unmask" && val == "ALL" {
		so.UnmaskAll = true
		return nil
	}
	for _, p := range strings.Split(val, ":") {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return invalidOpt("invalid --security-opt %s=%s: give absolute, clean paths separated by colons", key, val)
		}
		if key == "mask" {
			so.Mask = append(so.Mask, p)
		} else {
			so.Unmask = append(so.Unmask, p)
		}
	}
	return nil
}

// checkLabel accepts Docker's label options. Where SELinux is disabled
// they are ignored, as Docker does; where it is enabled berth, which
// cannot apply labels, refuses all but disable.
func checkLabel(val string) error {
	key, _, _ := strings.Cut(val, ":")
	switch key {
	case "disable", "nested":
		if val != key {
			return invalidOpt("invalid --security-opt label=%s: %s takes no value", val, key)
		}
		if key == "disable" {
			return nil
		}
	case "user", "role", "type", "level", "filetype":
		if !strings.Contains(val, ":") {
			return invalidOpt("invalid --security-opt label=%s: use label=%s:VALUE", val, key)
		}
	default:
		return invalidOpt("invalid --security-opt label=%s: use disable, nested, or user:, role:, type:, level:, filetype: with a value", val)
	}
	if selinuxEnabled() {
		return invalidOpt("--security-opt label=%s: SELinux is enabled on this host, but berth cannot apply SELinux labels", val)
	}
	return nil
}

// appArmorFile says whether the kernel has AppArmor enabled.
var appArmorFile = "/sys/module/apparmor/parameters/enabled"

// checkAppArmor accepts apparmor=unconfined (berth applies no profile);
// a profile is refused: berth cannot load one, and where AppArmor is
// absent there is nothing to load it into.
func checkAppArmor(val string) error {
	if val == "unconfined" {
		return nil
	}
	if val == "" {
		return invalidOpt("invalid --security-opt apparmor=: name a profile, or unconfined")
	}
	b, err := os.ReadFile(appArmorFile)
	if err != nil || !bytes.HasPrefix(b, []byte("Y")) {
		return invalidOpt("--security-opt apparmor=%s: AppArmor is not enabled on this host", val)
	}
	return invalidOpt("--security-opt apparmor=%s: berth does not apply AppArmor profiles (apparmor=unconfined is accepted)", val)
}

// ReadSeccompProfiles replaces seccomp=FILE with seccomp=CONTENT, as the
// docker client sends the profile itself: the container keeps the profile
// it was created with, whatever becomes of the file. The profile is
// checked here, so that a bad one is refused before anything is made.
func ReadSeccompProfiles(opts []string) ([]string, error) {
	out := make([]string, 0, len(opts))
	for _, opt := range opts {
		key, val, err := splitSecurityOpt(opt)
		if err != nil {
			return nil, err
		}
		if key != "seccomp" || val == "unconfined" || val == "" || strings.HasPrefix(val, "{") {
			out = append(out, opt)
			continue
		}
		b, err := os.ReadFile(val)
		if err != nil {
			return nil, invalidOpt("--security-opt seccomp=%s: %v", val, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, b); err != nil {
			return nil, invalidOpt("--security-opt seccomp=%s: not JSON: %v", val, err)
		}
		if _, err := seccomp.FromDocker(compact.Bytes(), DefaultCapabilities); err != nil {
			return nil, invalidOpt("--security-opt seccomp=%s: %v", val, err)
		}
		out = append(out, "seccomp="+compact.String())
	}
	return out, nil
}

// applySecurity applies --security-opt after the capabilities are set
// (a profile's rules depend on them). Without defaultSeccomp (a check of
// the options, not a run) a container that would get Docker's default
// profile gets none.
func applySecurity(s *specs.Spec, o RunOptions, defaultSeccomp bool) error {
	so, err := ParseSecurityOpts(o.SecurityOpt)
	if err != nil {
		return err
	}
	if so.NoNewPrivileges != nil {
		s.Process.NoNewPrivileges = *so.NoNewPrivileges
	}
	l := s.Linux
	if so.SystemPathsUnconfined || so.UnmaskAll {
		l.MaskedPaths, l.ReadonlyPaths = nil, nil
	}
	l.MaskedPaths = slices.DeleteFunc(l.MaskedPaths, func(p string) bool { return slices.Contains(so.Unmask, p) })
	l.ReadonlyPaths = slices.DeleteFunc(l.ReadonlyPaths, func(p string) bool { return slices.Contains(so.Unmask, p) })
	for _, p := range so.Mask {
		if !slices.Contains(l.MaskedPaths, p) {
			l.MaskedPaths = append(l.MaskedPaths, p)
		}
	}
	switch {
	case o.Privileged, so.Seccomp == "unconfined":
		l.Seccomp = nil
	case so.Seccomp != "":
		p, err := seccomp.FromDocker([]byte(so.Seccomp), s.Process.Capabilities.Bounding)
		if err != nil {
			return invalidOpt("--security-opt seccomp: %v", err)
		}
		l.Seccomp = p
	case defaultSeccomp:
		l.Seccomp = seccomp.DockerDefault(s.Process.Capabilities.Bounding)
	default:
		l.Seccomp = nil
	}
	return nil
}
