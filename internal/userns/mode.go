// Package userns decides the user namespace of a berth container: it
// parses --userns, --uidmap and --gidmap as podman has them, reads and
// extends berth's entries in /etc/subuid and /etc/subgid, and hands out
// disjoint ranges of host IDs to containers that ask for --userns=auto.
// It computes mappings only; mounting and entering the namespace are the
// container and rootfs packages' work.
package userns

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrInvalid marks a --userns, --uidmap or --gidmap the user must fix.
var ErrInvalid = errors.New("invalid user namespace option")

// Kind is how a container gets its user namespace.
type Kind string

const (
	// Host: no user namespace; container root is host root (Docker's
	// default, and berth's).
	Host Kind = "host"
	// Auto: a range of host IDs of its own, from berth's subordinate IDs.
	Auto Kind = "auto"
	// KeepID: an auto range, with the calling user's own UID and GID
	// mapped to themselves.
	KeepID Kind = "keep-id"
	// NoMap: an auto range in which nothing of the caller is mapped
	// (podman's nomap; as root it is auto).
	NoMap Kind = "nomap"
	// Explicit: the mappings --uidmap and --gidmap give.
	Explicit Kind = "explicit"
)

// DefaultSize is the number of IDs an auto range has unless size= says.
const DefaultSize = 65536

// Mode is a parsed --userns (with --uidmap and --gidmap).
type Mode struct {
	Kind Kind
	// Size of an allocated range (Auto, KeepID, NoMap).
	Size uint32
	// UIDs and GIDs of Explicit.
	UIDs, GIDs []Range
}

// Range maps Size IDs from ContainerID inside to HostID outside, as one
// line of /proc/PID/uid_map.
type Range struct {
	ContainerID uint32 `json:"ContainerID"`
	HostID      uint32 `json:"HostID"`
	Size        uint32 `json:"Size"`
}

func (r Range) String() string { return fmt.Sprintf("%d:%d:%d", r.ContainerID, r.HostID, r.Size) }

// Private reports whether the mode asks for a user namespace.
func (m Mode) Private() bool { return m.Kind != Host && m.Kind != "" }

// Allocated reports whether the mode needs a range from the allocator.
func (m Mode) Allocated() bool { return m.Kind == Auto || m.Kind == KeepID || m.Kind == NoMap }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse reads --userns (empty: host) and the --uidmap and --gidmap values.
// As in podman, --uidmap alone sets the GID mapping too, and either one
// means a private namespace with exactly those mappings.
func Parse(userns string, uidmaps, gidmaps []string) (Mode, error) {
	if len(uidmaps)+len(gidmaps) > 0 {
		if userns != "" && userns != string(Host) {
			return Mode{}, invalid("--userns=%s and --uidmap/--gidmap conflict: give one of them", userns)
		}
		return parseExplicit(uidmaps, gidmaps)
	}
	kind, opts, _ := strings.Cut(userns, ":")
	m := Mode{Kind: Kind(kind)}
	switch m.Kind {
	case "", Host:
		m.Kind = Host
		if opts != "" {
			return Mode{}, invalid("--userns=%s: host takes no options", userns)
		}
		return m, nil
	case Auto:
		m.Size = DefaultSize
		if opts == "" {
			return m, nil
		}
		for _, o := range strings.Split(opts, ",") {
			v, ok := strings.CutPrefix(o, "size=")
			if !ok {
				return Mode{}, invalid("--userns=%s: unknown option %q: auto takes size=N", userns, o)
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 || n > math.MaxUint32 {
				return Mode{}, invalid("--userns=%s: size must be a number of IDs from 1 to %d", userns, uint32(math.MaxUint32))
			}
			m.Size = uint32(n)
		}
		return m, nil
	case KeepID, NoMap:
		if opts != "" {
			return Mode{}, invalid("--userns=%s: options of %s are not supported: use --userns=%s", userns, kind, kind)
		}
		m.Size = DefaultSize
		return m, nil
	}
	return Mode{}, invalid("--userns=%s: use host, auto[:size=N], keep-id, nomap, or --uidmap/--gidmap", userns)
}

func parseExplicit(uidmaps, gidmaps []string) (Mode, error) {
	m := Mode{Kind: Explicit}
	var err error
	if m.UIDs, err = parseMaps("--uidmap", uidmaps); err != nil {
		return Mode{}, err
	}
	if m.GIDs, err = parseMaps("--gidmap", gidmaps); err != nil {
		return Mode{}, err
	}
	if len(m.UIDs) == 0 {
		m.UIDs = m.GIDs
	}
	if len(m.GIDs) == 0 {
		m.GIDs = m.UIDs
	}
	return m, nil
}

// parseMaps reads CONTAINER:HOST:SIZE values and checks that neither the
// container nor the host sides overlap (the kernel refuses such a map).
func parseMaps(flag string, values []string) ([]Range, error) {
	var out []Range
	for _, v := range values {
		parts := strings.Split(v, ":")
		if len(parts) != 3 {
			return nil, invalid("%s %s: use CONTAINER-ID:HOST-ID:SIZE, e.g. 0:100000:65536", flag, v)
		}
		var n [3]uint64
		for i, p := range parts {
			x, err := strconv.ParseUint(p, 10, 32)
			if err != nil {
				return nil, invalid("%s %s: %q is not an ID or size from 0 to %d", flag, v, p, uint32(math.MaxUint32))
			}
			n[i] = x
		}
		r := Range{ContainerID: uint32(n[0]), HostID: uint32(n[1]), Size: uint32(n[2])}
		if r.Size == 0 || n[0]+n[2] > math.MaxUint32 || n[1]+n[2] > math.MaxUint32 {
			return nil, invalid("%s %s: the size must be at least 1 and keep both ranges below %d", flag, v, uint32(math.MaxUint32))
		}
		out = append(out, r)
	}
	for i, a := range out {
		for _, b := range out[:i] {
			if overlaps(a.ContainerID, a.Size, b.ContainerID, b.Size) {
				return nil, invalid("%s %s and %s overlap inside the container: give each container ID one mapping", flag, b, a)
			}
			if overlaps(a.HostID, a.Size, b.HostID, b.Size) {
				return nil, invalid("%s %s and %s overlap on the host: give each host ID one mapping", flag, b, a)
			}
		}
	}
	if len(out) > 340 {
		// The kernel's limit on lines in uid_map.
		return nil, invalid("%s: at most 340 mappings", flag)
	}
	return out, nil
}

func overlaps(a, an, b, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}

// KeepIDMap maps id to itself and the rest of size IDs from 0 to the
// host range starting at base, skipping id: podman's keep-id layout.
func KeepIDMap(id, base, size uint32) []Range {
	if id >= size {
		// The caller's ID lies above the range: the range maps 0..size-1
		// and the caller's own ID comes on top.
		return []Range{{0, base, size}, {id, id, 1}}
	}
	out := []Range{}
	if id > 0 {
		out = append(out, Range{0, base, id})
	}
	out = append(out, Range{id, id, 1})
	if rest := size - id - 1; rest > 0 {
		out = append(out, Range{id + 1, base + id, rest})
	}
	return out
}
