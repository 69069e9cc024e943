package main

import (
	"github.com/berth-runtime/berth/internal/buildreq"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/rootless"
)

// rootlessBuildNetwork is RUN's network in a rootless build: host (the
// user's, which rootless berth never leaves) unless --network says none,
// as rootless BuildKit's default; root's bridge is refused in one line.
func rootlessBuildNetwork(req *buildreq.Request, changed bool) error {
	if !rootless.Active() {
		return nil
	}
	switch {
	case !changed:
		req.Network = "host"
	case req.Network == "none" || req.Network == "host":
	default:
		return errdefs.New(errdefs.ErrInvalidArgument, "--network %s for a rootless build needs root's bridge: use --network host (the default) or none", req.Network)
	}
	return nil
}
