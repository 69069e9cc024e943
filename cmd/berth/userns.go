package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/userns"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// idRanges is the allocator of --userns=auto ranges, under --root.
func (g *globalOptions) idRanges() userns.Pool { return g.engine().IDRanges() }

// rangeHeld reports whether container id still holds its range: as long
// as its directory (its record) exists.
func (g *globalOptions) rangeHeld(id string) bool { return g.engine().RangeHeld(id) }

// applyUsernsDefault sets --userns, when the run gives neither it nor
// --uidmap/--gidmap, from the host-wide default: --userns in BERTH_OPTS,
// else [containers] userns in /etc/berth/berth.toml (for a rootless user,
// its own ~/.config/berth/berth.toml, the host-wide file's userns being
// root's: config.LoadFor). It is set as the flag, which the container's
// stored config keeps for every start.
func applyUsernsDefault(fl *pflag.FlagSet, f *runFlags) error {
	if fl.Changed("userns") || len(f.uidmaps)+len(f.gidmaps) > 0 {
		return nil
	}
	def, err := usernsDefault()
	if err != nil || def == "" {
		return err
	}
	return fl.Set("userns", def)
}

// usernsMode checks the run's --userns, --uidmap and --gidmap, and
// returns the user that --userns=keep-id maps: the caller, recorded with
// the container for every later start.
func (f *runFlags) usernsMode() (*managed.IDPair, error) {
	mode, err := userns.Parse(f.userns, f.uidmaps, f.gidmaps)
	if err == nil && mode.Allocated() && rootless.Active() {
		// podman maps from the user's own range here; berth's container
		// already has all of it, as berth's user namespace.
		return nil, fmt.Errorf("--userns=%s: a rootless berth cannot allocate IDs from berth's ranges; its containers already run in a user namespace of your own IDs and /etc/subuid range: drop --userns", f.userns)
	}
	if err != nil || mode.Kind != userns.KeepID {
		return nil, err
	}
	uid, gid := caller()
	if uid == 0 {
		// As podman: mapping root to itself would give container
		// root host root's files.
		return nil, fmt.Errorf("--userns=keep-id maps the calling user, and that is root: run berth with sudo from your own user, or use --userns=auto")
	}
	return &managed.IDPair{UID: uid, GID: gid}, nil
}

// checkRootReachable refuses a user namespace of root's berth under a
// --root the namespace's root cannot reach: it owns none of the
// directories above --root, so each must let others through (berth opens
// --root itself and its containers directory, not what is above them).
// Without the check the container would fail to start with EACCES from
// deep in its root filesystem's setup.
func (f *runFlags) checkRootReachable(root string) error {
	mode, err := userns.Parse(f.userns, f.uidmaps, f.gidmaps)
	if err != nil || !mode.Private() || rootless.Active() {
		return nil
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o001 == 0 {
			flag := "--uidmap"
			if f.userns != "" {
				flag = "--userns=" + f.userns
			}
			return fmt.Errorf("%s: the container's user namespace cannot reach --root %s: %s (mode %04o) does not let others through; chmod o+x %s, or choose a --root others can reach", flag, root, dir, st.Mode().Perm(), dir)
		}
		if dir == "/" {
			return nil
		}
	}
}

// caller is the user who runs berth: the one sudo ran it for, if any.
func caller() (uint32, uint32) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if os.Geteuid() == 0 {
		if u, err := strconv.ParseUint(os.Getenv("SUDO_UID"), 10, 32); err == nil {
			uid = uint32(u)
		}
		if g, err := strconv.ParseUint(os.Getenv("SUDO_GID"), 10, 32); err == nil {
			gid = uint32(g)
		}
	}
	return uid, gid
}

// newSetupSubidsCommand is what make install runs: berth's lines in
// /etc/subuid and /etc/subgid, added if missing (the first
// --userns=auto does the same).
func newSetupSubidsCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "setup-subids",
		Short:  "Add berth's range to /etc/subuid and /etc/subgid if it has none",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := g.idRanges()
			for _, path := range []string{p.SubUID, p.SubGID} {
				spans, err := userns.EnsureSpans(path)
				if err != nil {
					return err
				}
				fmt.Printf("%s: %s:%d:%d\n", path, userns.Owner, spans[0].Start, spans[0].Count)
			}
			return nil
		},
	}
}
