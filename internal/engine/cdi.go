package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/config"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"tags.cncf.io/container-device-interface/pkg/cdi"
)

// gpuKind is the CDI kind --gpus names, as nvidia-ctk generates it.
const gpuKind = "nvidia.com/gpu"

// CDISpecDirsEnv overrides where CDI specs are read (colon-separated),
// over berth.toml's containers.cdi_spec_dirs and the defaults.
const CDISpecDirsEnv = "BERTH_CDI_SPEC_DIRS"

// cdiSpecDirs are the CDI spec directories: the environment's, else
// berth.toml's, else /etc/cdi and /var/run/cdi (podman's order).
func cdiSpecDirs() []string {
	if v := os.Getenv(CDISpecDirsEnv); v != "" {
		return filepath.SplitList(v)
	}
	if c, err := config.LoadFor(rootless.Active(), os.Getenv); err == nil && len(c.Containers.CDISpecDirs) > 0 {
		return c.Containers.CDISpecDirs
	}
	return []string{"/etc/cdi", "/var/run/cdi"}
}

// cdiNames are the CDI devices the options ask for: --device's CDI names
// and --gpus resolved against the specs of nvidia.com/gpu.
func cdiNames(x *spec.ResourceOptions, cache *cdi.Cache) ([]string, error) {
	var names []string
	for _, v := range x.Devices {
		if spec.IsCDIName(v) {
			names = append(names, v)
		}
	}
	if x.Gpus == "" {
		return names, nil
	}
	gpus, err := gpuNames(x.Gpus, cache)
	if err != nil {
		return nil, err
	}
	return append(names, gpus...), nil
}

// gpuNames reads --gpus as Docker does (all, a count, device=ID[,ID]) and
// names the nvidia.com/gpu CDI devices it means.
func gpuNames(v string, cache *cdi.Cache) ([]string, error) {
	var have []string
	for _, d := range cache.ListDevices() {
		if strings.HasPrefix(d, gpuKind+"=") {
			have = append(have, strings.TrimPrefix(d, gpuKind+"="))
		}
	}
	if len(have) == 0 {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "--gpus: no CDI spec for %s; generate one with nvidia-ctk cdi generate", gpuKind)
	}
	sort.Strings(have)
	// Docker's form quotes a list: --gpus '"device=0,1"'.
	v = strings.Trim(v, "\"")
	var ids []string
	switch {
	case v == "all":
		ids = []string{"all"}
		if !contains(have, "all") {
			ids = have
		}
	case strings.HasPrefix(v, "device="):
		ids = strings.Split(strings.TrimPrefix(v, "device="), ",")
	default:
		n, err := strconv.Atoi(strings.TrimPrefix(v, "count="))
		if err != nil || n < 1 {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --gpus %q: use all, a count, or device=ID[,ID]", v)
		}
		numbered := numbered(have)
		if n > len(numbered) {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "--gpus %d: the CDI specs have %d GPUs", n, len(numbered))
		}
		ids = numbered[:n]
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = gpuKind + "=" + id
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// numbered are the devices named by index (0, 1, ...), in order: what a
// count takes the first of.
func numbered(names []string) []string {
	var out []string
	for _, n := range names {
		if _, err := strconv.Atoi(n); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { a, _ := strconv.Atoi(out[i]); b, _ := strconv.Atoi(out[j]); return a < b })
	return out
}

// cdiCache reads the CDI specs once, without watching them.
func cdiCache() (*cdi.Cache, error) {
	cache, err := cdi.NewCache(cdi.WithSpecDirs(cdiSpecDirs()...), cdi.WithAutoRefresh(false))
	if err != nil {
		return nil, fmt.Errorf("read CDI specs: %w", err)
	}
	return cache, nil
}

func usesCDI(x *spec.ResourceOptions) bool {
	if x.Gpus != "" {
		return true
	}
	for _, v := range x.Devices {
		if spec.IsCDIName(v) {
			return true
		}
	}
	return false
}

// checkCDI refuses CDI devices no spec describes, before the container
// is made.
func checkCDI(x spec.ResourceOptions) error {
	if !usesCDI(&x) {
		return nil
	}
	return injectCDI(spec.Default("/", []string{"/bin/true"}), &x)
}

// injectCDI applies the CDI devices' edits (device nodes, environment,
// mounts, hooks) to the container's spec.
func injectCDI(s *specs.Spec, x *spec.ResourceOptions) error {
	if !usesCDI(x) {
		return nil
	}
	cache, err := cdiCache()
	if err != nil {
		return err
	}
	names, err := cdiNames(x, cache)
	if err != nil {
		return err
	}
	unresolved, err := cache.InjectDevices(s, names...)
	if len(unresolved) > 0 {
		return errdefs.New(errdefs.ErrInvalidArgument, "--device %s: no CDI spec in %s describes it", strings.Join(unresolved, ", "), strings.Join(cdiSpecDirs(), ", "))
	}
	if err != nil {
		return errdefs.New(errdefs.ErrInvalidArgument, "CDI devices %s: %v", strings.Join(names, ", "), err)
	}
	return nil
}
