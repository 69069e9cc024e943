// Package cdidev applies Container Device Interface devices to a
// container's OCI config, through tags.cncf.io/container-device-interface.
// Only the berth-cdi helper links it: the library's packages build tables
// at init (YAML, name validation) that no other berth command should pay for.
package cdidev

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"tags.cncf.io/container-device-interface/pkg/cdi"
)

// gpuKind is the CDI kind --gpus names, as nvidia-ctk generates it.
const gpuKind = "nvidia.com/gpu"

// cdiNames are the CDI devices asked for: --device's CDI names and
// --gpus resolved against the specs of nvidia.com/gpu.
func cdiNames(names []string, gpuOpt string, cache *cdi.Cache) ([]string, error) {
	if gpuOpt == "" {
		return names, nil
	}
	gpus, err := gpuNames(gpuOpt, cache)
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
		return nil, fmt.Errorf("--gpus: no CDI spec for %s; generate one with nvidia-ctk cdi generate", gpuKind)
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
			return nil, fmt.Errorf("invalid --gpus %q: use all, a count, or device=ID[,ID]", v)
		}
		numbered := numbered(have)
		if n > len(numbered) {
			return nil, fmt.Errorf("--gpus %d: the CDI specs have %d GPUs", n, len(numbered))
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

// Inject applies the edits (device nodes, environment, mounts, hooks) of
// the CDI devices names and of --gpus (gpus, "" for none), read from the
// spec directories dirs, to s.
func Inject(s *specs.Spec, dirs, names []string, gpus string) error {
	cache, err := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false))
	if err != nil {
		return fmt.Errorf("read CDI specs: %w", err)
	}
	all, err := cdiNames(names, gpus, cache)
	if err != nil {
		return err
	}
	unresolved, err := cache.InjectDevices(s, all...)
	if len(unresolved) > 0 {
		return fmt.Errorf("--device %s: no CDI spec in %s describes it", strings.Join(unresolved, ", "), strings.Join(dirs, ", "))
	}
	if err != nil {
		return fmt.Errorf("CDI devices %s: %v", strings.Join(all, ", "), err)
	}
	return nil
}
