package archive

import "fmt"

// IDMapping maps Size IDs from ContainerID inside a user namespace to
// HostID outside, as /proc/PID/uid_map does.
type IDMapping struct {
	ContainerID, HostID, Size uint32
}

// IDMaps is a container's user namespace mapping; empty: the host's IDs.
type IDMaps struct {
	UIDs, GIDs []IDMapping
}

// overflowID is the kernel's overflowuid: an ID with no mapping.
const overflowID = 65534

// toHost maps a container's uid and gid to the host's; an ID outside
// the mapping is refused, as the kernel refuses it.
func (m IDMaps) toHost(uid, gid int) (int, int, error) {
	hu, okU := mapID(m.UIDs, uid, true)
	hg, okG := mapID(m.GIDs, gid, true)
	if !okU || !okG {
		return 0, 0, fmt.Errorf("owner %d:%d is outside the container's user namespace mapping", uid, gid)
	}
	return hu, hg, nil
}

// HostOf maps a container's uid and gid to the host's.
func (m IDMaps) HostOf(uid, gid int) (int, int, error) { return m.toHost(uid, gid) }

// toContainer maps a host's uid and gid to the container's; one outside
// the mapping is the overflow ID, as stat(2) inside shows it.
func (m IDMaps) toContainer(uid, gid int) (int, int) {
	cu, okU := mapID(m.UIDs, uid, false)
	cg, okG := mapID(m.GIDs, gid, false)
	if !okU {
		cu = overflowID
	}
	if !okG {
		cg = overflowID
	}
	return cu, cg
}

func mapID(maps []IDMapping, id int, toHost bool) (int, bool) {
	if len(maps) == 0 {
		return id, true
	}
	for _, m := range maps {
		from, to := int64(m.HostID), int64(m.ContainerID)
		if toHost {
			from, to = to, from
		}
		if int64(id) >= from && int64(id) < from+int64(m.Size) {
			return int(to + int64(id) - from), true
		}
	}
	return 0, false
}
