package network

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/events"
)

// event reports a change of n in the journal of the berth root it is
// under (<root>/networks/<name>), with Docker's attributes.
func (n *Network) event(action, container string) {
	attrs := map[string]string{"name": n.Name, "type": "bridge"}
	if container != "" {
		attrs["container"] = container
	}
	events.At(filepath.Dir(filepath.Dir(n.dir))).Emit(events.Network, action, n.eventID(), attrs)
}

// eventID is the network's ID as far as it is known without a lock: what
// Create or Load found, else the ID file ID wrote (the default network's),
// else the name.
func (n *Network) eventID() string {
	if n.id != "" {
		return n.id
	}
	if b, err := os.ReadFile(filepath.Join(n.dir, idFile)); err == nil && validID(strings.TrimSpace(string(b))) {
		return strings.TrimSpace(string(b))
	}
	return n.Name
}
