package engine

import (
	"slices"
	"strconv"
	"time"

	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/network"
)

// ImageInspect is one image as `docker image inspect` shows it, then
// berth's own fields (its names as stored, manifest and layer blobs).
type ImageInspect struct {
	ID           string              `json:"Id"`
	RepoTags     []string            `json:"RepoTags"`
	RepoDigests  []string            `json:"RepoDigests"`
	Parent       string              `json:"Parent"`
	Comment      string              `json:"Comment"`
	Created      time.Time           `json:"Created"`
	Config       *ImageInspectConfig `json:"Config"`
	Architecture string              `json:"Architecture"`
	Variant      string              `json:"Variant,omitempty"`
	Os           string              `json:"Os"`
	Size         int64               `json:"Size"`
	RootFS       ImageRootFS         `json:"RootFS"`

	// berth's own.
	Names    []string      `json:"Names"`
	Digests  []string      `json:"Digests"`
	Manifest string        `json:"Manifest"`
	Layers   []image.Layer `json:"Layers"`
}

// ImageInspectConfig is an image's Config in Docker's names.
type ImageInspectConfig struct {
	User         string              `json:"User"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
}

// ImageRootFS is Docker's RootFS: the layers' diff IDs, bottom first.
type ImageRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

// InspectImage is img (with its configuration, if known) in Docker's
// shape; names are familiar ("alpine:latest"), as docker shows them.
func InspectImage(img *image.Image, cfg *image.Config) ImageInspect {
	v := ImageInspect{ID: img.ID, RepoTags: []string{}, RepoDigests: []string{}, Created: img.Created, Size: img.Size,
		RootFS: ImageRootFS{Type: "layers", Layers: []string{}},
		Names:  img.Names, Digests: img.Digests, Manifest: img.Manifest, Layers: img.Layers}
	for _, n := range img.Names {
		v.RepoTags = append(v.RepoTags, image.FamiliarName(n))
	}
	for _, d := range img.Digests {
		v.RepoDigests = append(v.RepoDigests, image.FamiliarName(d))
	}
	for _, l := range img.Layers {
		v.RootFS.Layers = append(v.RootFS.Layers, l.DiffID)
	}
	if cfg != nil {
		v.Architecture, v.Variant, v.Os = cfg.Architecture, cfg.Variant, cfg.OS
		c := &ImageInspectConfig{User: cfg.User, Env: cfg.Env, Cmd: cfg.Cmd, WorkingDir: cfg.WorkingDir,
			Entrypoint: cfg.Entrypoint, Labels: cfg.Labels, StopSignal: cfg.StopSignal}
		if len(cfg.ExposedPorts) > 0 {
			c.ExposedPorts = map[string]struct{}{}
			for _, p := range cfg.ExposedPorts {
				c.ExposedPorts[p] = struct{}{}
			}
		}
		v.Config = c
	}
	return v
}

// VolumeInspect is one volume as `docker volume inspect` shows it; UsedBy
// is berth's: the containers that mount it, running or not.
type VolumeInspect struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  string            `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"`
	Options    map[string]string `json:"Options"`
	UsedBy     []string          `json:"UsedBy"`
}

// InspectVolume is the volume called name in Docker's shape.
func (e *Engine) InspectVolume(name string) (VolumeInspect, error) {
	store := e.Volumes()
	v, err := store.Get(name)
	if err != nil {
		return VolumeInspect{}, err
	}
	users, _ := store.Users(name)
	for _, rec := range e.VolumeRefs()[name] {
		if !slices.Contains(users, rec.ID) {
			users = append(users, rec.ID)
		}
	}
	if users == nil {
		users = []string{}
	}
	return VolumeInspect{Name: v.Name, Driver: "local", Mountpoint: v.Mountpoint,
		CreatedAt: v.CreatedAt.Format(time.RFC3339), Labels: v.Labels, Scope: "local", UsedBy: users}, nil
}

// NetworkInspect is one network as `docker network inspect` shows it;
// Bridge is berth's (the host interface).
type NetworkInspect struct {
	Name       string                      `json:"Name"`
	ID         string                      `json:"Id"`
	Scope      string                      `json:"Scope"`
	Driver     string                      `json:"Driver"`
	EnableIPv6 bool                        `json:"EnableIPv6"`
	IPAM       NetworkIPAM                 `json:"IPAM"`
	Internal   bool                        `json:"Internal"`
	Containers map[string]NetworkContainer `json:"Containers"`
	Options    map[string]string           `json:"Options"`
	Labels     map[string]string           `json:"Labels"`

	Bridge string `json:"Bridge"`
}

// NetworkIPAM is Docker's IPAM: the network's subnet and gateway.
type NetworkIPAM struct {
	Driver string              `json:"Driver"`
	Config []NetworkIPAMConfig `json:"Config"`
}

type NetworkIPAMConfig struct {
	Subnet  string `json:"Subnet"`
	Gateway string `json:"Gateway"`
}

// NetworkContainer is one running container on a network.
type NetworkContainer struct {
	Name        string `json:"Name"`
	IPv4Address string `json:"IPv4Address"`
	IPv6Address string `json:"IPv6Address"`
	MacAddress  string `json:"MacAddress"`
}

// InspectNetwork is the network called name in Docker's shape.
func (e *Engine) InspectNetwork(name string) (NetworkInspect, error) {
	n, err := network.Load(e.Root, name)
	if err != nil {
		return NetworkInspect{}, err
	}
	id, err := n.ID()
	if err != nil {
		return NetworkInspect{}, err
	}
	v := NetworkInspect{Name: n.Name, ID: id, Scope: "local", Driver: "bridge", Bridge: n.Bridge,
		IPAM:       NetworkIPAM{Driver: "default", Config: []NetworkIPAMConfig{{Subnet: n.Subnet.String(), Gateway: n.Subnet.Addr().Next().String()}}},
		Containers: map[string]NetworkContainer{}, Options: map[string]string{}, Labels: map[string]string{}}
	for id, addr := range n.Members() {
		c := NetworkContainer{IPv4Address: addr.String() + "/" + strconv.Itoa(n.Subnet.Bits())}
		if rec, err := e.Containers().Get(id); err == nil {
			c.Name = rec.Name
		}
		v.Containers[id] = c
	}
	return v, nil
}
