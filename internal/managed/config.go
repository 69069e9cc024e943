package managed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/health"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/specjson"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Config is a container as it was resolved when it was created: what
// every run of it starts from (berth start, a restart, the monitor),
// with nothing left to look up in the environment or the working
// directory of the berth that created it. It is stored in the record in
// place of the command line that made it (records before it held that
// argv, which berth start replayed).
type Config struct {
	// Rootfs is --rootfs, absolute; empty for a container of an image
	// (Record.ImageID), whose root is its snapshot.
	Rootfs string `json:"Rootfs,omitempty"`
	// Cmd is the command after the image (with --rootfs, the whole
	// command); empty runs the image's.
	Cmd []string `json:"Cmd,omitempty"`
	// Entrypoint is --entrypoint when given ("" clears the image's).
	Entrypoint *string `json:"Entrypoint,omitempty"`
	Hostname   string  `json:"Hostname,omitempty"`
	// Env is -e and --env-file, each KEY=VALUE: a bare -e KEY was
	// copied from the creator's environment, and the files were read.
	Env        []string `json:"Env,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
	User       string   `json:"User,omitempty"`
	Tty        bool     `json:"Tty,omitempty"`
	OpenStdin  bool     `json:"OpenStdin,omitempty"`
	Privileged bool     `json:"Privileged,omitempty"`
	// Resources as given: --memory, --cpus, --cpu-shares, --pids-limit.
	Memory    string `json:"Memory,omitempty"`
	CPUs      string `json:"Cpus,omitempty"`
	CPUShares int64  `json:"CpuShares,omitempty"`
	PidsLimit int64  `json:"PidsLimit,omitempty"`
	// NetworkMode is --network: bridge, a network's name, none, host or
	// container:NAME (resolved again on every run).
	NetworkMode string `json:"NetworkMode"`
	// UserModeNetwork is the user-mode stack of a rootless bridge, pasta
	// or slirp4netns, on the container's own network namespace
	// (NetworkMode stays as asked: bridge, pasta or slirp4netns).
	UserModeNetwork UserModeTool `json:"UserModeNetwork,omitempty"`
	// Ports are -p as given: [hostip:]hostport:containerport[/proto].
	Ports []string `json:"Ports,omitempty"`
	// Mounts are -v, --mount and --tmpfs, parsed and checked; a volume's
	// Source is its name ("" for an anonymous one), acquired on every run.
	Mounts         []spec.MountRequest `json:"Mounts,omitempty"`
	ReadonlyRootfs bool                `json:"ReadonlyRootfs,omitempty"`
	// Userns is --userns (the host-wide default applied), UIDMaps and
	// GIDMaps --uidmap and --gidmap; the ranges they resolve to are
	// Record.UserNS. KeepID is the user --userns=keep-id maps, the one
	// who created the container.
	Userns  string   `json:"Userns,omitempty"`
	UIDMaps []string `json:"UIDMaps,omitempty"`
	GIDMaps []string `json:"GIDMaps,omitempty"`
	KeepID  *IDPair  `json:"KeepID,omitempty"`
	// CapAdd, CapDrop, SecurityOpt (a seccomp profile stored as its
	// content) and GroupAdd are docker run's options of those names,
	// checked.
	CapAdd      []string `json:"CapAdd,omitempty"`
	CapDrop     []string `json:"CapDrop,omitempty"`
	SecurityOpt []string `json:"SecurityOpt,omitempty"`
	GroupAdd    []string `json:"GroupAdd,omitempty"`
	// Ulimits, OomScoreAdj, Sysctls and ShmSize too.
	Ulimits     []string          `json:"Ulimits,omitempty"`
	OomScoreAdj *int              `json:"OomScoreAdj,omitempty"`
	Sysctls     map[string]string `json:"Sysctls,omitempty"`
	ShmSize     string            `json:"ShmSize,omitempty"`
	// StopSignal and StopTimeout (seconds) are --stop-signal and
	// --stop-timeout: stop and restart use them, before the image's
	// StopSignal and the default of 10 seconds.
	StopSignal  string `json:"StopSignal,omitempty"`
	StopTimeout *int   `json:"StopTimeout,omitempty"`
	// Labels are -l and --label-file, over the image's labels;
	// Annotations are --annotation, put in the OCI config.
	Labels      map[string]string `json:"Labels,omitempty"`
	Annotations map[string]string `json:"Annotations,omitempty"`
	// IpcMode, PidMode and UTSMode are --ipc, --pid and --uts (a
	// container:NAME is joined again on every run); Domainname is
	// --domainname.
	IpcMode    string `json:"IpcMode,omitempty"`
	PidMode    string `json:"PidMode,omitempty"`
	UTSMode    string `json:"UTSMode,omitempty"`
	Domainname string `json:"Domainname,omitempty"`
	// ExtraHosts, Dns, DnsSearch and DnsOptions are --add-host, --dns,
	// --dns-search and --dns-option: a bridge network's files.
	ExtraHosts []string `json:"ExtraHosts,omitempty"`
	DNS        []string `json:"Dns,omitempty"`
	DNSSearch  []string `json:"DnsSearch,omitempty"`
	DNSOptions []string `json:"DnsOptions,omitempty"`

	// Networking options (issue 13's network group). Expose is --expose
	// (PORT[-END][/PROTO]); PublishAll is -P, which publishes the
	// image's exposed ports and Expose on random host ports. IPAddress,
	// MacAddress and Aliases are --ip, --mac-address and --network-alias
	// on NetworkMode's network. Networks are the other networks berth
	// network connect added (in order), which every start joins too.
	Expose     []string            `json:"Expose,omitempty"`
	PublishAll bool                `json:"PublishAllPorts,omitempty"`
	IPAddress  string              `json:"IPAddress,omitempty"`
	MacAddress string              `json:"MacAddress,omitempty"`
	Aliases    []string            `json:"Aliases,omitempty"`
	Networks   []NetworkConnection `json:"Networks,omitempty"`

	// Health checks and --init (issue 13's health group).
	// Healthcheck is --health-* over the image's HEALTHCHECK, merged when
	// the container is created (Docker's Config.Healthcheck; Test ["NONE"]
	// is --no-healthcheck); nil: none. Init is --init: berth-pid1 runs as
	// PID 1, reaping zombies and forwarding signals to the command.
	Healthcheck *health.Config `json:"Healthcheck,omitempty"`
	Init        bool           `json:"Init,omitempty"`

	// ResourceOptions are the devices and resources group's options
	// (--memory-swap, --cpuset-cpus, --blkio-weight, --device, ...),
	// flat under Docker's HostConfig names.
	spec.ResourceOptions

	// Issue 13's foreground group: --log-driver and --log-opt.
	LogConfig LogConfig `json:"LogConfig,omitzero"`
}

// NetworkConnection is a network berth network connect added to a
// container, with its --ip and --alias.
type NetworkConnection struct {
	Name      string   `json:"Name"`
	IPAddress string   `json:"IPAddress,omitempty"`
	Aliases   []string `json:"Aliases,omitempty"`
}

// LogConfig is where a container's output is kept, as Docker's
// HostConfig.LogConfig: Type json-file (the default, ""), none or
// journald; Config is --log-opt (json-file's max-size, max-file).
type LogConfig struct {
	Type   string            `json:"Type,omitempty"`
	Config map[string]string `json:"Config,omitempty"`
}

// NetworkFiles are the options of the container's /etc/hosts and
// /etc/resolv.conf.
func (c *Config) NetworkFiles() network.FileOptions {
	return network.FileOptions{ExtraHosts: c.ExtraHosts, DNS: c.DNS, DNSSearch: c.DNSSearch, DNSOptions: c.DNSOptions}
}

// Extras are the options spec.FromRunOptions takes beyond the basics.
func (c *Config) Extras() spec.Extras {
	return spec.Extras{
		CapAdd: c.CapAdd, CapDrop: c.CapDrop, SecurityOpt: c.SecurityOpt, GroupAdd: c.GroupAdd,
		Ulimits: c.Ulimits, OOMScoreAdj: c.OomScoreAdj, Sysctls: c.Sysctls, ShmSize: c.ShmSize,
		Annotations: c.Annotations, IPC: c.IpcMode, PID: c.PidMode, UTS: c.UTSMode, Domainname: c.Domainname,
	}
}

// UserModeTool names a user-mode network stack ("" for none). Records
// written before pasta was supported say true, for slirp4netns.
type UserModeTool string

// UnmarshalJSON reads the tool's name, or the older true or false.
func (t *UserModeTool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*t = "slirp4netns"
		return nil
	case "false", "null":
		*t = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("UserModeNetwork: %w", err)
	}
	*t = UserModeTool(s)
	return nil
}

// IDPair is a user and group ID.
type IDPair struct {
	UID uint32 `json:"UID"`
	GID uint32 `json:"GID"`
}

// Volumes are the names of the volumes the container mounts, with the
// names anonymous volumes get from id.
func (c *Config) Volumes(id string, anonymousName func(id, destination string) string) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, m := range c.Mounts {
		if m.Type != spec.MountVolume {
			continue
		}
		name := m.Source
		if name == "" {
			name = anonymousName(id, m.Destination)
		}
		out = append(out, name)
	}
	return out
}

// specFile is the OCI config of a container's last run.
const specFile = "spec.json"

// SaveSpec writes the OCI config of the container's last run beside its
// record (not in it: ps reads every record, and a config holds the whole
// seccomp profile).
func (s Store) SaveSpec(id string, spec *specs.Spec) error {
	b, err := specjson.Marshal(spec)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.Dir, id)
	tmp := filepath.Join(dir, "."+specFile)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write container spec: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, specFile)); err != nil {
		return fmt.Errorf("write container spec: %w", err)
	}
	return nil
}

// Spec reads the OCI config of the container's last run; ErrNotExist if
// it never ran (or ran with --rm, or under a berth before Config).
func (s Store) Spec(id string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, id, specFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no stored spec", ErrNotExist, shortID(id))
	}
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if specjson.Unmarshal(b, &spec) {
		return &spec, nil
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("container spec %s: %w", shortID(id), err)
	}
	return &spec, nil
}

// MatchesLabel is docker ps --filter label=KEY (the label is set) or
// label=KEY=VALUE (set to VALUE).
func (c *Config) MatchesLabel(filter string) bool {
	if c == nil {
		return false
	}
	key, want, hasValue := strings.Cut(filter, "=")
	got, ok := c.Labels[key]
	return ok && (!hasValue || got == want)
}
