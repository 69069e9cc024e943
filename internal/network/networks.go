package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/network/ipam"
	"github.com/berth-runtime/berth/internal/network/link"
	"github.com/berth-runtime/berth/internal/network/nft"
	"github.com/berth-runtime/berth/internal/spec"
	"golang.org/x/sys/unix"
)

// ErrNotFound means there is no network of that name.
var ErrNotFound = errdefs.Wrap(errdefs.ErrNotFound, errors.New("not found"))

// reserved names are network modes, not networks.
var reserved = map[string]bool{"none": true, "host": true, "default": true}

// ValidName reports whether name can name a network.
func ValidName(name string) bool { return spec.ValidName(name) && !reserved[name] }

// settings is a user-defined network's network.json.
type settings struct {
	// ID is the network's ID, 64 hex digits as Docker's (ls shows 12);
	// networks made before it get one on first use (ID).
	ID      string    `json:"id,omitempty"`
	Name    string    `json:"name"`
	Bridge  string    `json:"bridge"`
	Subnet  string    `json:"subnet"`
	Created time.Time `json:"created"`
}

func networksDir(root string) string { return filepath.Join(root, "networks") }

// Create makes a user-defined network. A zero subnet picks the first free
// 10.89.N.0/24 that overlaps neither another network nor a host route.
func Create(root, name string, subnet netip.Prefix) (*Network, error) {
	if !ValidName(name) || name == DefaultName {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid network name %q: use letters, digits, _ . - (not none, host, default or bridge)", name)
	}
	taken, err := usedSubnets(root)
	if err != nil {
		return nil, err
	}
	if !subnet.IsValid() {
		if subnet, err = freeSubnet(taken); err != nil {
			return nil, err
		}
	}
	if other, ok := ipam.Overlaps(subnet, taken); ok {
		return nil, errdefs.New(errdefs.ErrInvalidArgument, "subnet %s overlaps network subnet %s: choose another --subnet", subnet, other)
	}
	n := &Network{Name: name, Bridge: bridgeName(name), Subnet: subnet, dir: filepath.Join(networksDir(root), name)}
	if err := n.checkRoutes(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(networksDir(root), 0o755); err != nil {
		return nil, fmt.Errorf("create network %s: %w", name, err)
	}
	if err := os.Mkdir(n.dir, 0o755); errors.Is(err, os.ErrExist) {
		return nil, errdefs.New(errdefs.ErrAlreadyExists, "network %s already exists", name)
	} else if err != nil {
		return nil, fmt.Errorf("create network %s: %w", name, err)
	}
	if n.id, err = newNetworkID(); err != nil {
		os.RemoveAll(n.dir)
		return nil, err
	}
	b, _ := json.MarshalIndent(settings{ID: n.id, Name: name, Bridge: n.Bridge, Subnet: subnet.String(), Created: time.Now().UTC()}, "", "\t")
	if err := os.WriteFile(filepath.Join(n.dir, "network.json"), b, 0o644); err != nil {
		os.RemoveAll(n.dir)
		return nil, fmt.Errorf("create network %s: %w", name, err)
	}
	n.event("create", "")
	return n, nil
}

// bridgeName is a user network's bridge: "br-" and a hash of the name, to
// fit the 15 characters of an interface name whatever the network's name.
func bridgeName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "br-" + hex.EncodeToString(sum[:])[:12]
}

// Load returns the network called name: "bridge" is the default one.
func Load(root, name string) (*Network, error) {
	if name == DefaultName {
		return Default(root), nil
	}
	if !ValidName(name) {
		return nil, fmt.Errorf("network %q: %w", name, ErrNotFound)
	}
	dir := filepath.Join(networksDir(root), name)
	b, err := os.ReadFile(filepath.Join(dir, "network.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("network %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var s settings
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	subnet, err := netip.ParsePrefix(s.Subnet)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	return &Network{Name: s.Name, Bridge: s.Bridge, Subnet: subnet, dir: dir, id: s.ID}, nil
}

// idFile holds the ID of a network whose network.json has none: the
// default network, and networks made before IDs.
const idFile = "id"

// ID is the network's stable ID. The default network's, and that of a
// network made before IDs, is made on first use and kept in its
// directory: only the commands that show it (network ls, inspect) read
// it, never a container's start.
func (n *Network) ID() (string, error) {
	if n.id != "" {
		return n.id, nil
	}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return "", fmt.Errorf("network %s: %w", n.Name, err)
	}
	err := n.locked(func() error {
		path := filepath.Join(n.dir, idFile)
		b, err := os.ReadFile(path)
		if id := strings.TrimSpace(string(b)); err == nil && validID(id) {
			n.id = id
			return nil
		}
		id, err := newNetworkID()
		if err != nil {
			return err
		}
		if err := writeFileAtomic(path, []byte(id+"\n")); err != nil {
			return fmt.Errorf("network %s: store its ID: %w", n.Name, err)
		}
		n.id = id
		return nil
	})
	return n.id, err
}

func newNetworkID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("network ID: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// writeFileAtomic writes path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// List returns the default network and the user-defined ones.
func List(root string) []*Network {
	out := []*Network{Default(root)}
	entries, _ := os.ReadDir(networksDir(root))
	var names []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != DefaultName {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if n, err := Load(root, name); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func usedSubnets(root string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, n := range List(root) {
		out = append(out, n.Subnet)
	}
	return out, nil
}

func freeSubnet(taken []netip.Prefix) (netip.Prefix, error) {
	routes, err := link.HostRoutes("")
	if err != nil {
		return netip.Prefix{}, err
	}
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, byte(i), 0}), 24)
		if _, used := ipam.Overlaps(p, append(append([]netip.Prefix(nil), taken...), routes...)); !used {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free subnet in 10.89.0.0/16: give --subnet")
}

// Members are the network's containers whose berth still runs.
func (n *Network) Members() map[string]netip.Addr {
	out := map[string]netip.Addr{}
	pool, err := ipam.Open(n.dir, n.Subnet)
	if err != nil {
		return out
	}
	owners, _ := pool.Owners()
	for id, addr := range owners {
		if n.alive(id) {
			out[id] = addr
		}
	}
	return out
}

// Remove deletes a user-defined network: its bridge, rules and state. A
// network with running containers is refused.
func (n *Network) Remove() error {
	if n.Name == DefaultName {
		return errdefs.New(errdefs.ErrInvalidArgument, "the default network %s cannot be removed", DefaultName)
	}
	n.Collect()
	if m := n.Members(); len(m) > 0 {
		return errdefs.New(errdefs.ErrInUse, "network %s has %d running containers: stop them first", n.Name, len(m))
	}
	// Its ID for the destroy event, while its directory is there (not
	// knowing it does not keep the network).
	_, _ = n.ID()
	err := n.withRules(func(r *nft.Rules) error { return r.RemoveNetwork(n.Bridge) })
	if lerr := link.DeleteBridge(n.Bridge); lerr != nil {
		err = errors.Join(err, lerr)
	}
	// What is gone already is not an error: a half-removed network.
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if err := os.RemoveAll(n.dir); err != nil {
		return err
	}
	n.event("destroy", "")
	return nil
}
