package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/network/usermode"
	"github.com/spf13/pflag"

	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/state"
	"github.com/spf13/cobra"
)

// defaultDirs are berth's storage and state directories: the system's
// for root, the user's own for rootless berth (see rootless.UserDirs).
// Left empty when the user's cannot be found; enterRootless says why.
func defaultDirs() rootless.Dirs {
	if !rootless.Active() {
		return rootless.Dirs{Data: defaultStorage, Run: state.DefaultRoot}
	}
	d, err := rootless.UserDirs(rootless.ProcessEnvironment())
	if err != nil {
		return rootless.Dirs{}
	}
	return d
}

// noNamespace are the commands a rootless user runs as itself: they read
// records and logs, or signal processes, which the user may do to its own
// containers from outside their user namespace (as the namespace's owner
// it holds every capability in it). The others need to be root among the
// user's IDs: they unpack layers, mount, and remove files of other IDs.
var noNamespace = map[string]bool{
	"help": true, "man": true, "gen-man": true, "completion": true,
	cobra.ShellCompRequestCmd: true, cobra.ShellCompNoDescRequestCmd: true,
	"berth ps": true, "berth container ps": true, "berth logs": true, "berth inspect": true,
	"berth container inspect": true, "berth stop": true, "berth kill": true, "berth wait": true,
	"berth images": true, "berth image ls": true, "berth image inspect": true, "berth stats": true,
	"berth top": true, "berth volume ls": true, "berth volume inspect": true,
	"berth network ls": true, "berth network inspect": true, "berth events": true, "berth system events": true,
	// exec joins the container's user namespace, the one berth's re-exec
	// made for the monitor, through berth-nsenter: from a new one, a
	// sibling, it could not.
	"berth exec": true,
}

// enterRootless runs a rootless user's command in berth's user namespace
// (rootless.Enter) and exits with its status, unless the command needs no
// privilege or this process is there already.
func enterRootless(g *globalOptions, cmd *cobra.Command, args []string) error {
	if !rootless.Active() {
		return nil
	}
	if g.root == "" || g.runroot == "" {
		_, err := rootless.UserDirs(rootless.ProcessEnvironment())
		return err
	}
	// berth container X is berth X (berth container ls is berth ps).
	path := strings.Replace(strings.Replace(cmd.CommandPath(), "berth container ls", "berth ps", 1), "berth container ", "berth ", 1)
	if rootless.Inside() || noNamespace[cmd.Name()] || noNamespace[path] {
		return nil
	}
	if d := defaultDirs(); d.Run == g.runroot {
		if err := rootless.Prepare(d); err != nil {
			return err
		}
	}
	m, err := rootless.UserMapping()
	if err != nil {
		return err
	}
	if m.OwnOnly() {
		warnOwnIDOnce(g.runroot)
	}
	stopBeforeEntering(g, cmd, args)
	code, err := rootless.Enter(m)
	if err != nil {
		return err
	}
	os.Exit(code)
	return nil
}

// stopBeforeEntering stops, as the user, the containers that rm -f and
// restart are about to stop. A signal sent from inside a new user
// namespace cannot reach a container process that runs as another of the
// user's IDs (the container's namespace is a sibling of the new one, not
// its child), while the user, owner of every namespace berth made for it,
// may signal any of them.
func stopBeforeEntering(g *globalOptions, cmd *cobra.Command, args []string) {
	var timeout time.Duration
	switch cmd.Name() {
	case "rm":
		if force, _ := cmd.Flags().GetBool("force"); !force {
			return
		}
	case "restart":
		t, _ := cmd.Flags().GetInt("time")
		timeout = stopTimeout(cmd, t)
	default:
		return
	}
	for _, ref := range args {
		if rec, err := g.containers().Get(ref); err == nil {
			_ = stopContainer(g, rec, timeout)
		}
	}
}

// warnOwnIDOnce says, once per state directory, that only the user's own
// ID is mapped: images whose files belong to other IDs cannot be unpacked
// with their owners, and containers have a single user.
func warnOwnIDOnce(runroot string) {
	mark := filepath.Join(runroot, ".own-id-only-warned")
	if _, err := os.Stat(mark); err == nil {
		return
	}
	printWarning(fmt.Sprintf("no subordinate IDs for uid %d in /etc/subuid and /etc/subgid: only your own ID is mapped (to root in containers); add a range for your user to both files (e.g. with usermod --add-subuids 100000-165535 --add-subgids 100000-165535) for images with files of other users", os.Getuid()))
	if err := os.MkdirAll(runroot, 0o700); err == nil {
		if f, err := os.OpenFile(mark, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	}
}

// rootlessNetwork chooses a rootless container's network. berth's
// bridge networks are a bridge, veths and nftables rules in the host's
// network namespace, which an ordinary user cannot make: a rootless
// --network bridge is a user-mode stack instead, in a network namespace
// of the container's own, connected by it (f.userMode): pasta if it
// is installed, else slirp4netns, as podman 5 chooses; --network pasta
// and --network slirp4netns (podman's names) choose one. The stored
// config keeps the mode as asked (inspect shows it); the engine knows
// user mode from the tool's name. Without
// --network, rootless containers get none (loopback only), which starts
// no extra process, unless -p asks for published ports; host, none and
// container:NAME work as for root. Networks made with berth network
// create need root.
func rootlessNetwork(f *runFlags, fl *pflag.FlagSet) error {
	o := &f.opts
	if !rootless.Active() {
		if usermode.IsTool(o.Network) {
			return errdefs.New(errdefs.ErrInvalidArgument, "--network %s is a rootless container's network: root's containers use --network bridge", o.Network)
		}
		return nil
	}
	mode := o.Network
	if !fl.Changed("network") {
		mode = "none"
		if len(f.publish) > 0 {
			mode = "bridge"
		}
	}
	switch {
	case mode == "none" || mode == "host" || strings.HasPrefix(mode, "container:"):
		o.Network = mode
		return nil
	case mode == "bridge" || usermode.IsTool(mode):
		tool, err := usermode.Choose(mode)
		if err != nil {
			return err
		}
		o.Network, f.userMode = mode, tool
		return nil
	default:
		return errdefs.New(errdefs.ErrInvalidArgument, "--network %s needs root: a rootless container can have --network bridge (pasta or slirp4netns), pasta, slirp4netns, none, host or container:NAME", mode)
	}
}
