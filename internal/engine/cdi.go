package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/config"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/specjson"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CDISpecDirsEnv overrides where CDI specs are read (colon-separated),
// over berth.toml's containers.cdi_spec_dirs and the defaults.
const CDISpecDirsEnv = "BERTH_CDI_SPEC_DIRS"

// cdiHelper applies CDI devices (cmd/berth-cdi), installed beside berth:
// the CDI library is linked there, not into berth, whose every command
// would pay for its init.
const cdiHelper = "berth-cdi"

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

func usesCDI(x *spec.ResourceOptions) bool {
	return x.Gpus != "" || len(cdiDeviceNames(x)) > 0
}

func cdiDeviceNames(x *spec.ResourceOptions) []string {
	var names []string
	for _, v := range x.Devices {
		if spec.IsCDIName(v) {
			names = append(names, v)
		}
	}
	return names
}

// checkCDI refuses CDI devices no spec describes, before the container
// is made.
func checkCDI(x spec.ResourceOptions) error {
	return injectCDI(spec.Default("/", []string{"/bin/true"}), &x)
}

// injectCDI applies the CDI devices' edits (device nodes, environment,
// mounts, hooks) to the container's spec, through berth-cdi.
func injectCDI(s *specs.Spec, x *spec.ResourceOptions) error {
	if !usesCDI(x) {
		return nil
	}
	var args []string
	for _, d := range cdiSpecDirs() {
		args = append(args, "--spec-dir", d)
	}
	if x.Gpus != "" {
		args = append(args, "--gpus", x.Gpus)
	}
	args = append(append(args, "--"), cdiDeviceNames(x)...)
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("find %s: %w", cdiHelper, err)
	}
	in, err := specjson.Marshal(s)
	if err != nil {
		return err
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(filepath.Dir(self), cdiHelper), args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = bytes.NewReader(in), &out, &stderr, []string{}
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && stderr.Len() > 0 {
		return errdefs.New(errdefs.ErrInvalidArgument, "%s", strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return fmt.Errorf("CDI devices need %s installed beside berth: %w", cdiHelper, err)
	}
	var edited specs.Spec
	if !specjson.Unmarshal(out.Bytes(), &edited) {
		if err := json.Unmarshal(out.Bytes(), &edited); err != nil {
			return fmt.Errorf("%s: %w", cdiHelper, err)
		}
	}
	*s = edited
	return nil
}
