package network

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"

	"github.com/berth-runtime/berth/internal/events"
)

// ID is a network's ID: berth keeps none, so it is the hash of the name
// (whose first 12 digits name a user network's bridge).
func ID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// event reports a change of n in the journal of the berth root it is
// under (<root>/networks/<name>), with Docker's attributes.
func (n *Network) event(action, container string) {
	attrs := map[string]string{"name": n.Name, "type": "bridge"}
	if container != "" {
		attrs["container"] = container
	}
	events.At(filepath.Dir(filepath.Dir(n.dir))).Emit(events.Network, action, ID(n.Name), attrs)
}
