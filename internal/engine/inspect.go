package engine

import (
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/health"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/snapshot"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerInspect is one container as `docker inspect` shows it: Docker's
// field names and shapes for what berth has, then berth's own fields
// (marked). This is the one place the view is built: a group adding a
// feature adds its fields here (State.Health, NetworkSettings.Networks'
// aliases, HostConfig's resources).
type ContainerInspect struct {
	ID              string                 `json:"Id"`
	Created         time.Time              `json:"Created"`
	Path            string                 `json:"Path"`
	Args            []string               `json:"Args"`
	State           InspectState           `json:"State"`
	Image           string                 `json:"Image"` // the image's ID, as Docker
	Name            string                 `json:"Name"`  // "/name", as Docker
	RestartCount    int                    `json:"RestartCount"`
	Driver          string                 `json:"Driver"`
	HostConfig      InspectHostConfig      `json:"HostConfig"`
	Mounts          []InspectMount         `json:"Mounts"`
	Config          *InspectConfig         `json:"Config"`
	NetworkSettings InspectNetworkSettings `json:"NetworkSettings"`
	// SizeRw and SizeRootFs are inspect -s's: the writable layer, and it
	// with the image.
	SizeRw     *int64 `json:"SizeRw,omitempty"`
	SizeRootFs *int64 `json:"SizeRootFs,omitempty"`

	// berth's own: the reference the image was given as, the record's
	// configuration (how it was created, which every start runs again),
	// the user namespace, and the OCI mounts and resources of its last run.
	ImageID      string                `json:"ImageID,omitempty"`
	ImageName    string                `json:"ImageName,omitempty"`
	Detached     bool                  `json:"Detached,omitempty"`
	CreateConfig *managed.Config       `json:"CreateConfig,omitempty"`
	UserNS       *managed.UserNS       `json:"UserNS,omitempty"`
	OCIMounts    []specs.Mount         `json:"OCIMounts,omitempty"`
	Resources    *specs.LinuxResources `json:"Resources,omitempty"`
}

// InspectState is Docker's State, with berth's monitor and restart
// bookkeeping after it.
type InspectState struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	// Health is Docker's State.Health, for a container with a check.
	Health *health.State `json:"Health,omitempty"`

	// berth's own.
	MonitorPid    int  `json:"MonitorPid,omitempty"`
	RestartCount  int  `json:"RestartCount,omitempty"`
	StopRequested bool `json:"StopRequested,omitempty"`
}

// InspectHostConfig is Docker's HostConfig for the options berth has.
type InspectHostConfig struct {
	NetworkMode    string                   `json:"NetworkMode"`
	PortBindings   map[string][]PortBinding `json:"PortBindings"`
	PublishAll     bool                     `json:"PublishAllPorts"`
	RestartPolicy  managed.Policy           `json:"RestartPolicy"`
	AutoRemove     bool                     `json:"AutoRemove"`
	Binds          []string                 `json:"Binds"`
	CapAdd         []string                 `json:"CapAdd"`
	CapDrop        []string                 `json:"CapDrop"`
	DNS            []string                 `json:"Dns"`
	DNSOptions     []string                 `json:"DnsOptions"`
	DNSSearch      []string                 `json:"DnsSearch"`
	ExtraHosts     []string                 `json:"ExtraHosts"`
	GroupAdd       []string                 `json:"GroupAdd"`
	IpcMode        string                   `json:"IpcMode"`
	PidMode        string                   `json:"PidMode"`
	UTSMode        string                   `json:"UTSMode"`
	UsernsMode     string                   `json:"UsernsMode"`
	OomScoreAdj    int                      `json:"OomScoreAdj"`
	Privileged     bool                     `json:"Privileged"`
	ReadonlyRootfs bool                     `json:"ReadonlyRootfs"`
	SecurityOpt    []string                 `json:"SecurityOpt"`
	ShmSize        int64                    `json:"ShmSize"`
	Sysctls        map[string]string        `json:"Sysctls,omitempty"`
	Annotations    map[string]string        `json:"Annotations,omitempty"`
	Memory         int64                    `json:"Memory"`
	NanoCpus       int64                    `json:"NanoCpus"`
	CPUShares      int64                    `json:"CpuShares"`
	PidsLimit      *int64                   `json:"PidsLimit"`
	Ulimits        []string                 `json:"Ulimits"`
}

// PortBinding is one host side of a published port, as Docker's.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// InspectMount is one entry of Docker's Mounts.
type InspectMount struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

// InspectConfig is Docker's Config: the container's process as it runs
// (the image's settings merged with the container's).
type InspectConfig struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Image        string              `json:"Image"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
	// ReadonlyRootfs is berth's (Docker has it in HostConfig too).
	ReadonlyRootfs bool `json:"ReadonlyRootfs,omitempty"`
}

// InspectNetworkSettings is Docker's NetworkSettings; Mode and UserMode
// are berth's (how the container is connected, and its user-mode stack).
type InspectNetworkSettings struct {
	Bridge     string                     `json:"Bridge"`
	SandboxKey string                     `json:"SandboxKey"`
	Ports      map[string][]PortBinding   `json:"Ports"`
	IPAddress  string                     `json:"IPAddress"`
	Gateway    string                     `json:"Gateway"`
	MacAddress string                     `json:"MacAddress"`
	Networks   map[string]*InspectNetwork `json:"Networks"`

	Mode     string `json:"Mode,omitempty"`
	UserMode any    `json:"UserMode,omitempty"`
}

// InspectNetwork is one of NetworkSettings.Networks.
type InspectNetwork struct {
	Aliases     []string `json:"Aliases"`
	NetworkID   string   `json:"NetworkID"`
	Gateway     string   `json:"Gateway"`
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	MacAddress  string   `json:"MacAddress"`
}

// InspectOptions: Size computes SizeRw and SizeRootFs (inspect -s), which
// walks the container's writable layer.
type InspectOptions struct{ Size bool }

// Inspect is rec in Docker's shape: its record, and the OCI config of its
// last run (stored beside the record; the runtime's, for a running
// container an older berth started).
func (e *Engine) Inspect(rec managed.Record, o InspectOptions) ContainerInspect {
	rec = e.WithPause(rec)
	s, _ := e.Containers().Spec(rec.ID)
	if s == nil && rec.State.Up() {
		if c, err := container.Attach(e.Runroot, rec.ID); err == nil {
			if live, err := c.Spec(); err == nil {
				s = live
			}
		}
	}
	v := ContainerInspect{ID: rec.ID, Created: rec.Created, Image: rec.ImageID, Name: "/" + rec.Name,
		RestartCount: rec.State.RestartCount, Driver: e.StorageDriver, State: inspectState(rec.State),
		ImageID: rec.ImageID, ImageName: rec.Image, Detached: rec.Detached, CreateConfig: rec.Config, UserNS: rec.UserNS,
		Args: []string{}, Mounts: []InspectMount{}}
	v.State.Health = e.Health(rec)
	if v.Image == "" {
		v.Image = rec.Image
	}
	if d, err := snapshot.ParseDriver(e.StorageDriver); err == nil {
		v.Driver = string(d)
	}
	v.Config = inspectConfig(rec, s)
	if len(v.Config.Cmd) > 0 || len(v.Config.Entrypoint) > 0 {
		argv := append(append([]string{}, v.Config.Entrypoint...), v.Config.Cmd...)
		if s != nil && s.Process != nil && len(s.Process.Args) > 0 {
			argv = s.Process.Args
		}
		v.Path, v.Args = argv[0], append([]string{}, argv[1:]...)
	}
	if s != nil {
		v.OCIMounts = s.Mounts
		if s.Linux != nil {
			v.Resources = s.Linux.Resources
		}
	}
	v.HostConfig = inspectHostConfig(rec)
	if rec.Config != nil {
		v.Mounts = e.inspectMounts(rec.Config.Mounts)
	}
	v.NetworkSettings = e.inspectNetwork(rec)
	if o.Size {
		rw := e.containerSize(rec.ID)
		root := rw + e.imageSize(rec.ImageID)
		v.SizeRw, v.SizeRootFs = &rw, &root
	}
	return v
}

// ContainerSizes are ps -s's: the writable layer, and with the image.
func (e *Engine) ContainerSizes(rec managed.Record) (rw, virtual int64) {
	rw = e.containerSize(rec.ID)
	return rw, rw + e.imageSize(rec.ImageID)
}

// imageSize is the unpacked size of an image; 0 for none (--rootfs) or
// an image since removed.
func (e *Engine) imageSize(id string) int64 {
	if id == "" {
		return 0
	}
	store, err := e.Images()
	if err != nil {
		return 0
	}
	img, err := store.Get(id)
	if err != nil {
		return 0
	}
	return img.Size
}

func inspectState(st managed.State) InspectState {
	return InspectState{Status: string(st.Status), Running: st.Up(), Paused: st.Status == managed.Paused,
		OOMKilled: st.OOMKilled, Dead: st.Status == managed.Dead, Pid: st.Pid, ExitCode: st.ExitCode,
		Error: st.Error, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
		MonitorPid: st.MonitorPid, RestartCount: st.RestartCount, StopRequested: st.StopRequested}
}

// inspectConfig is Docker's Config: the running process from the OCI
// config where there is one, else the record's.
func inspectConfig(rec managed.Record, s *specs.Spec) *InspectConfig {
	c := &InspectConfig{Image: rec.Image, Env: []string{}, Cmd: []string{}}
	if cfg := rec.Config; cfg != nil {
		c.Hostname, c.Domainname, c.User, c.Tty, c.OpenStdin = cfg.Hostname, cfg.Domainname, cfg.User, cfg.Tty, cfg.OpenStdin
		c.Env, c.WorkingDir, c.Labels = cfg.Env, cfg.WorkingDir, cfg.Labels
		c.StopSignal, c.StopTimeout, c.ReadonlyRootfs = cfg.StopSignal, cfg.StopTimeout, cfg.ReadonlyRootfs
		if cfg.Cmd != nil {
			c.Cmd = cfg.Cmd
		}
		if cfg.Entrypoint != nil && *cfg.Entrypoint != "" {
			c.Entrypoint = []string{*cfg.Entrypoint}
		}
		if c.Image == "" {
			c.Image = cfg.Rootfs
		}
		for _, p := range cfg.Expose {
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			c.ExposedPorts[withProto(p)] = struct{}{}
		}
	}
	if s != nil && s.Process != nil {
		c.Env, c.WorkingDir = s.Process.Env, s.Process.Cwd
		if s.Hostname != "" {
			c.Hostname = s.Hostname
		}
		if s.Root != nil {
			c.ReadonlyRootfs = s.Root.Readonly
		}
	}
	if c.Env == nil {
		c.Env = []string{}
	}
	return c
}

func inspectHostConfig(rec managed.Record) InspectHostConfig {
	h := InspectHostConfig{RestartPolicy: rec.Restart, AutoRemove: rec.AutoRemove, PortBindings: map[string][]PortBinding{}}
	if h.RestartPolicy.Name == "" {
		h.RestartPolicy.Name = "no"
	}
	cfg := rec.Config
	if cfg == nil {
		return h
	}
	h.NetworkMode, h.CapAdd, h.CapDrop, h.DNS, h.DNSOptions, h.DNSSearch = cfg.NetworkMode, cfg.CapAdd, cfg.CapDrop, cfg.DNS, cfg.DNSOptions, cfg.DNSSearch
	h.ExtraHosts, h.GroupAdd, h.IpcMode, h.PidMode, h.UTSMode, h.UsernsMode = cfg.ExtraHosts, cfg.GroupAdd, cfg.IpcMode, cfg.PidMode, cfg.UTSMode, cfg.Userns
	h.Privileged, h.ReadonlyRootfs, h.SecurityOpt, h.Sysctls, h.Annotations, h.Ulimits = cfg.Privileged, cfg.ReadonlyRootfs, cfg.SecurityOpt, cfg.Sysctls, cfg.Annotations, cfg.Ulimits
	if cfg.OomScoreAdj != nil {
		h.OomScoreAdj = *cfg.OomScoreAdj
	}
	h.ShmSize = 64 << 20 // Docker's default
	if n, err := spec.ParseSize(cfg.ShmSize); err == nil && cfg.ShmSize != "" {
		h.ShmSize = n
	}
	if n, err := spec.ParseSize(cfg.Memory); err == nil && cfg.Memory != "" {
		h.Memory = n
	}
	if f, err := strconv.ParseFloat(cfg.CPUs, 64); err == nil {
		h.NanoCpus = int64(f * 1e9)
	}
	h.CPUShares, h.PublishAll = cfg.CPUShares, cfg.PublishAll
	if cfg.PidsLimit != 0 {
		h.PidsLimit = &cfg.PidsLimit
	}
	for _, m := range cfg.Mounts {
		if m.Type == "bind" {
			b := m.Source + ":" + m.Destination
			if m.ReadOnly {
				b += ":ro"
			}
			h.Binds = append(h.Binds, b)
		}
	}
	for _, p := range cfg.Ports {
		hostIP, hostPort, private := splitPublish(p)
		h.PortBindings[private] = append(h.PortBindings[private], PortBinding{HostIP: hostIP, HostPort: hostPort})
	}
	return h
}

// splitPublish reads -p's [hostip:]hostport:containerport[/proto] into
// Docker's PortBindings key and value.
func splitPublish(p string) (hostIP, hostPort, private string) {
	i := strings.LastIndex(p, ":")
	if i < 0 {
		return "", "", withProto(p)
	}
	host, private := p[:i], withProto(p[i+1:])
	if j := strings.LastIndex(host, ":"); j >= 0 {
		return strings.Trim(host[:j], "[]"), host[j+1:], private
	}
	return "", host, private
}

func withProto(port string) string {
	if strings.Contains(port, "/") {
		return port
	}
	return port + "/tcp"
}

// inspectMounts are Docker's Mounts: binds, volumes and tmpfs the
// container asked for.
func (e *Engine) inspectMounts(reqs []spec.MountRequest) []InspectMount {
	out := []InspectMount{}
	for _, m := range reqs {
		im := InspectMount{Type: m.Type, Source: m.Source, Destination: m.Destination, RW: !m.ReadOnly, Propagation: m.Propagation}
		if m.ReadOnly {
			im.Mode = "ro"
		}
		switch m.Type {
		case "volume":
			im.Name, im.Source = m.Source, ""
			if v, err := e.Volumes().Get(m.Source); err == nil && m.Source != "" {
				im.Source = v.Mountpoint
			}
		case "bind":
			if im.Propagation == "" {
				im.Propagation = "rprivate"
			}
		case "tmpfs":
			im.Source = ""
		}
		out = append(out, im)
	}
	return out
}

// inspectNetwork is Docker's NetworkSettings: the address and published
// ports of a running container, and the network it is on.
func (e *Engine) inspectNetwork(rec managed.Record) InspectNetworkSettings {
	n := InspectNetworkSettings{Ports: map[string][]PortBinding{}, Networks: map[string]*InspectNetwork{}}
	mode := ""
	if rec.Config != nil {
		mode = rec.Config.NetworkMode
	}
	if rec.Network != nil {
		n.IPAddress, n.Gateway, n.Mode = rec.Network.IPAddress, rec.Network.Gateway, rec.Network.Mode
		if rec.Network.UserMode != nil {
			n.UserMode = rec.Network.UserMode
		}
	}
	if rec.State.Up() && rec.State.Pid > 0 {
		n.SandboxKey = "/proc/" + strconv.Itoa(rec.State.Pid) + "/ns/net"
	}
	ports, _ := e.Ports(rec, "")
	for _, p := range ports {
		n.Ports[p.Private()] = append(n.Ports[p.Private()], PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(int(p.HostPort))})
	}
	if rec.Network != nil && len(rec.Network.Networks) > 0 {
		// The networks the run (and network connect) recorded.
		for name, ep := range rec.Network.Networks {
			n.Networks[name] = e.inspectEndpoint(name, ep)
		}
		if ep := rec.Network.Networks[mode]; ep != nil && n.MacAddress == "" {
			n.MacAddress = ep.MacAddress
		}
	} else if mode != "" && !strings.HasPrefix(mode, "container:") {
		n.Networks[mode] = e.inspectEndpoint(mode, &managed.Endpoint{IPAddress: n.IPAddress, Gateway: n.Gateway})
	}
	if n.IPAddress != "" && mode != "" {
		if net, err := network.Load(e.Root, mode); err == nil {
			n.Bridge = net.Bridge
		}
	}
	return n
}

// inspectEndpoint is one of NetworkSettings.Networks; NetworkID is the
// network's, when it is a bridge network berth has.
func (e *Engine) inspectEndpoint(name string, ep *managed.Endpoint) *InspectNetwork {
	v := &InspectNetwork{Aliases: ep.Aliases, NetworkID: name, IPAddress: ep.IPAddress, Gateway: ep.Gateway,
		IPPrefixLen: ep.IPPrefixLen, MacAddress: ep.MacAddress}
	if v.Aliases == nil {
		v.Aliases = []string{}
	}
	if name == "none" || name == "host" {
		return v
	}
	if net, err := network.Load(e.Root, name); err == nil {
		if id, err := net.ID(); err == nil {
			v.NetworkID = id
		}
		if v.IPPrefixLen == 0 && v.IPAddress != "" {
			v.IPPrefixLen = net.Subnet.Bits()
		}
	}
	return v
}
