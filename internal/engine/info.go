package engine

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/snapshot"
	"golang.org/x/sys/unix"
)

// ClientVersion is docker version's Client block, with Docker's field
// names (docker version --format json).
type ClientVersion struct {
	Version string
	// ApiVersion is "n/a": berth has no daemon and serves no API.
	ApiVersion string
	GoVersion  string
	GitCommit  string
	// BuildTime is the time of the commit built (vcs.time), as a
	// reproducible build's SOURCE_DATE_EPOCH: the same source, the same
	// binary.
	BuildTime string
	Os        string
	Arch      string
}

// VersionInfo is docker version's object: berth is the client alone.
type VersionInfo struct {
	Client ClientVersion
}

// VersionOf is what berth version shows of a binary of version v, built
// from commit at commitTime (RFC 3339), as the Makefile stamps them;
// where they are empty, from the build information Go records (go build
// in a git tree), else "n/a".
func VersionOf(v, commit, commitTime string) VersionInfo {
	c := ClientVersion{Version: v, ApiVersion: "n/a", GoVersion: runtime.Version(), GitCommit: "n/a", BuildTime: "n/a",
		Os: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok && commit == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				commitTime = s.Value
			}
		}
	}
	if commit != "" {
		c.GitCommit = commit[:min(len(commit), 7)]
	}
	if t, err := time.Parse(time.RFC3339, commitTime); err == nil {
		// docker version's layout: "Fri Sep 20 11:39:44 2024".
		c.BuildTime = t.UTC().Format(time.ANSIC)
	}
	return VersionInfo{Client: c}
}

// Info is docker info's object, with Docker's field names where Docker
// has the field (docker info --format '{{.CgroupVersion}}' works the
// same); RunRoot, Rootless and UsernsDefault are berth's own.
type Info struct {
	Containers        int
	ContainersRunning int
	ContainersPaused  int
	ContainersStopped int
	Images            int
	// Driver is the storage driver: overlay, or vfs.
	Driver string
	// CgroupDriver is cgroupfs (berth makes its cgroups itself), or none
	// for a rootless berth without a delegated cgroup v2 subtree, whose
	// containers get no cgroup.
	CgroupDriver    string
	CgroupVersion   string
	KernelVersion   string
	OperatingSystem string
	OSType          string
	Architecture    string
	NCPU            int
	MemTotal        int64
	Name            string
	ServerVersion   string
	// DockerRootDir is --root, RunRoot --runroot (podman's name).
	DockerRootDir string
	RunRoot       string
	// SecurityOptions are Docker's: "name=seccomp,profile=builtin",
	// "name=rootless", "name=userns" (containers get a user namespace
	// by default), "name=cgroupns" (cgroup v2).
	SecurityOptions []string
	Rootless        bool
	// UsernsDefault is --userns for containers that give none (BERTH_OPTS,
	// berth.toml); "host" when unset.
	UsernsDefault string
	// Warnings are what could not be found out; the rest is shown.
	Warnings []string
}

// InfoOptions are what the engine cannot know by itself.
type InfoOptions struct {
	// Version is berth's own version.
	Version string
	// UsernsDefault is --userns of containers that give none.
	UsernsDefault string
}

// Info describes berth and its host, as docker info does.
func (e *Engine) Info(o InfoOptions) Info {
	in := Info{ServerVersion: o.Version, UsernsDefault: o.UsernsDefault, DockerRootDir: e.Root, RunRoot: e.Runroot,
		OSType: runtime.GOOS, NCPU: runtime.NumCPU(), Rootless: rootless.Active(), CgroupDriver: "cgroupfs"}
	if in.UsernsDefault == "" {
		in.UsernsDefault = "host"
	}
	in.countContainers(e)
	if is, err := e.Images(); err != nil {
		in.Warnings = append(in.Warnings, err.Error())
	} else if imgs, err := is.List(); err != nil {
		in.Warnings = append(in.Warnings, err.Error())
	} else {
		in.Images = len(imgs)
	}
	if d, err := snapshot.ParseDriver(e.StorageDriver); err == nil {
		in.Driver = string(d)
	} else {
		in.Warnings = append(in.Warnings, err.Error())
	}
	v := cgroups.Detect()
	in.CgroupVersion = strconv.Itoa(int(v))
	// A rootless container gets a cgroup only in a v2 subtree delegated
	// to the user (cgroups.ForUser); elsewhere none, as rootless docker
	// on cgroup v1 says.
	if in.Rootless && (v != cgroups.V2 || cgroups.Delegated() == "") {
		in.CgroupDriver = "none"
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		in.KernelVersion = unix.ByteSliceToString(u.Release[:])
		in.Architecture = unix.ByteSliceToString(u.Machine[:])
		in.Name = unix.ByteSliceToString(u.Nodename[:])
	}
	in.OperatingSystem = osRelease("/etc/os-release")
	in.MemTotal = memTotal("/proc/meminfo")
	in.SecurityOptions = securityOptions(in.Rootless, in.UsernsDefault != "host", v)
	return in
}

// countContainers fills the container counts: stopped is every state
// but running and paused (created, exited, dead), as docker's.
func (in *Info) countContainers(e *Engine) {
	for _, rec := range e.Containers().List() {
		in.Containers++
		switch e.WithPause(rec).State.Status {
		case managed.Running:
			in.ContainersRunning++
		case managed.Paused:
			in.ContainersPaused++
		default:
			in.ContainersStopped++
		}
	}
}

// securityOptions are docker info's: berth gives every container
// Docker's default seccomp profile (the built-in one).
func securityOptions(rootless, userns bool, v cgroups.Version) []string {
	opts := []string{"name=seccomp,profile=builtin"}
	if rootless {
		opts = append(opts, "name=rootless")
	}
	if userns {
		opts = append(opts, "name=userns")
	}
	if v == cgroups.V2 {
		opts = append(opts, "name=cgroupns")
	}
	return opts
}

// osRelease is os-release's PRETTY_NAME, as docker info's Operating
// System.
func osRelease(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "n/a"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return "n/a"
}

// memTotal is /proc/meminfo's MemTotal in bytes.
func memTotal(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
