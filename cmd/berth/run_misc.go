package main

import (
	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/spf13/pflag"
)

// miscFlags are docker run's --platform and --volumes-from, and the
// options berth refuses with a reason (issue 13's remaining options).
type miscFlags struct {
	platform            string
	volumesFrom         []string
	runtime             string
	storageOpts         []string
	volumeDriver        string
	disableContentTrust bool
}

func addMiscFlags(fl *pflag.FlagSet, m *miscFlags) {
	// -h is --hostname, as docker run's; help stays --help. Defining the
	// help flag here keeps cobra from giving it -h.
	fl.Bool("help", false, "print this help")
	fl.StringVar(&m.platform, "platform", "", "the image's platform: this host's (linux/"+hostArch()+") only; berth does not emulate others")
	stringArrayVarP(fl, &m.volumesFrom, "volumes-from", "", "mount the volumes and bind mounts of another container: CONTAINER[:ro|:rw]")
	fl.StringVar(&m.runtime, "runtime", "", "refused: berth is the runtime")
	stringArrayVarP(fl, &m.storageOpts, "storage-opt", "", "refused: berth's overlay storage has no per-container size")
	fl.StringVar(&m.volumeDriver, "volume-driver", "", "volume driver: local only")
	fl.BoolVar(&m.disableContentTrust, "disable-content-trust", true, "berth has no content trust: only true is accepted")
}

// check refuses what berth does not do, before anything is made.
func (m *miscFlags) check(fl *pflag.FlagSet) error {
	switch {
	case fl.Changed("runtime"):
		return errdefs.New(errdefs.ErrInvalidArgument, "--runtime is not supported: berth is the runtime (berth-oci is berth's OCI runtime for other engines)")
	case fl.Changed("storage-opt"):
		return errdefs.New(errdefs.ErrInvalidArgument, "--storage-opt is not supported: berth's overlay storage has no per-container size (limit the disk with a --tmpfs or a volume on a sized file system)")
	case m.volumeDriver != "" && m.volumeDriver != "local":
		return errdefs.New(errdefs.ErrInvalidArgument, "--volume-driver %s is not supported: berth has local volumes only (--volume-driver local)", m.volumeDriver)
	case !m.disableContentTrust:
		return errdefs.New(errdefs.ErrInvalidArgument, "--disable-content-trust=false is not supported: berth has no content trust (Docker Notary); pin images by digest instead (IMAGE@sha256:...)")
	}
	return engine.CheckPlatform(m.platform)
}

// apply resolves --volumes-from into cfg's mounts, now: the container
// keeps them if the other container is removed.
func (m *miscFlags) apply(g *globalOptions, cfg *managed.Config) error {
	if len(m.volumesFrom) == 0 {
		return nil
	}
	return g.engine().ResolveVolumesFrom(cfg, m.volumesFrom)
}

// hostArch is the architecture berth was built for, which it runs.
func hostArch() string { return engine.HostPlatform()[len("linux/"):] }
