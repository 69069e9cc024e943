package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
)

// resolvePsFilters checks ps's --filter keys (an unknown one is docker's
// "invalid filter") and turns before= and since= into the creation time
// of the container they name, in nanoseconds.
func resolvePsFilters(g *globalOptions, filters []string) ([]string, error) {
	out := make([]string, 0, len(filters))
	for _, f := range filters {
		key, val, _ := strings.Cut(f, "=")
		switch key {
		case "name", "id", "status", "label", "ancestor", "volume", "network":
		case "exited":
			if _, err := strconv.Atoi(val); err != nil {
				return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid filter %q: exited takes an exit code", f)
			}
		case "before", "since":
			rec, err := g.containers().Get(val)
			if err != nil {
				return nil, err
			}
			f = key + "=" + strconv.FormatInt(rec.Created.UnixNano(), 10)
		default:
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid filter %q: give name=, id=, status=, ancestor=, label=, exited=, before=, since=, volume= or network=", f)
		}
		out = append(out, f)
	}
	return out, nil
}

// matchesMore are the filters beyond berth's first ones: exited (with
// that exit code), before and since (resolved to a creation time), volume
// (a volume's name or a mount's destination), network (by name).
func matchesMore(rec managed.Record, key, val string) bool {
	switch key {
	case "exited":
		return rec.State.Status == managed.Exited && strconv.Itoa(rec.State.ExitCode) == val
	case "before", "since":
		t, _ := strconv.ParseInt(val, 10, 64)
		if key == "before" {
			return rec.Created.UnixNano() < t
		}
		return rec.Created.UnixNano() > t
	}
	cfg := rec.Config
	if cfg == nil {
		return false
	}
	switch key {
	case "volume":
		return slices.ContainsFunc(cfg.Mounts, func(m spec.MountRequest) bool {
			return (m.Type == "volume" && m.Source == val) || m.Destination == val
		})
	case "network":
		return cfg.NetworkMode == val || slices.ContainsFunc(cfg.Networks, func(c managed.NetworkConnection) bool { return c.Name == val })
	}
	return false
}
