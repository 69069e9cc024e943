package engine

import (
	"testing"

	"github.com/berth-runtime/berth/internal/managed"
)

// TestRootOwner: what cp copies in without -a belongs to the container's
// root: host root, or the host ID its user namespace maps root to.
func TestRootOwner(t *testing.T) {
	uid, gid, err := rootOwner(managed.Record{})
	if err != nil || uid != 0 || gid != 0 {
		t.Errorf("no user namespace: %d:%d %v, want 0:0", uid, gid, err)
	}
	rec := managed.Record{UserNS: &managed.UserNS{
		UIDMap: []managed.IDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GIDMap: []managed.IDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}}}
	uid, gid, err = rootOwner(rec)
	if err != nil || uid != 100000 || gid != 200000 {
		t.Errorf("user namespace: %d:%d %v, want 100000:200000", uid, gid, err)
	}
	// keep-id maps root elsewhere than 0 -> a range: what is 0 inside counts.
	rec.UserNS.UIDMap = []managed.IDMapping{{ContainerID: 1000, HostID: 1000, Size: 1}, {ContainerID: 0, HostID: 300000, Size: 1000}}
	if uid, _, _ = rootOwner(rec); uid != 300000 {
		t.Errorf("keep-id: root is host %d, want 300000", uid)
	}
}
