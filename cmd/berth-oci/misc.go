package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"
)

func specVersion() string { return specs.Version }

func newSpecCommand(g *globals) *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec [flags]",
		Short: "Write a default config.json into the bundle directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists already: remove it first", path)
			}
			s := spec.Default("rootfs", []string{"sh"})
			s.Process.Terminal = true
			s.Process.Env = append(s.Process.Env, "TERM=xterm")
			s.Hostname = "berth"
			if rootless {
				makeRootless(s)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			os.Stdout = f
			return printJSON(s)
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "bundle directory")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "a config for rootless containers")
	return cmd
}

func newFeaturesCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print what this runtime supports, as the runtime spec's JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return printJSON(runtimeFeatures())
		},
	}
}

func runtimeFeatures() features.Features {
	yes := true
	return features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  rootfs.KnownOptions(),

		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "uts"},
			Capabilities: caps.All(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: new(bool), SystemdUser: new(bool)},
			Apparmor:     &features.Apparmor{Enabled: new(bool)},
			Selinux:      &features.Selinux{Enabled: new(bool)},
			// idmap and ridmap binds (rootfs.CloneTrees).
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
		},
		Annotations: map[string]string{"org.opencontainers.runtime-spec.features.runtime": "berth-oci " + version},
	}
}

// makeRootless turns the default config into one for an unprivileged
// caller, as runc spec --rootless does: a user namespace mapping the
// caller to root, the host's /sys bound read-only (an unprivileged user
// cannot mount sysfs for a network namespace it does not own), no cgroup
// mount, no gid option on devpts, no network namespace and no resources.
func makeRootless(s *specs.Spec) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.NetworkNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		switch m.Destination {
		case "/sys":
			m = specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		case "/sys/fs/cgroup":
			continue
		case "/dev/pts":
			var opts []string
			for _, o := range m.Options {
				if o != "gid=5" {
					opts = append(opts, o)
				}
			}
			m.Options = opts
		}
		mounts = append(mounts, m)
	}
	s.Mounts = mounts
	s.Linux.Resources = nil
}
