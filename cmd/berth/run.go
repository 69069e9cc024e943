package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/network/nft"
	"github.com/berth-runtime/berth/internal/progress"
	"github.com/berth-runtime/berth/internal/snapshot"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/state"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

type runFlags struct {
	opts       spec.RunOptions
	publish    []string
	rm         bool
	detach     bool
	name       string
	pull       string
	entrypoint string
	tlsVerify  bool
}

func newRunCommand(g *globalOptions) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND] [ARG...]",
		Short: "Run a command in a new container",
		Example: `  berth run --rm alpine echo hello
  berth run --rm -it busybox sh
  berth run --rm --rootfs ./rootfs --hostname box --pids-limit 64 --memory 256m --cpus 0.5 -e FOO=bar -- /bin/sh -c 'hostname; ps; echo $FOO'
  berth run --rm -it --rootfs ./rootfs /bin/sh
  echo hi | berth run --rm -i --rootfs ./rootfs cat`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.opts.EntrypointSet = cmd.Flags().Changed("entrypoint")
			return runContainer(g, f, args)
		},
	}
	fl := cmd.Flags()
	// Everything after the image or command belongs to the container.
	fl.SetInterspersed(false)
	o := &f.opts
	fl.StringVar(&o.Rootfs, "rootfs", "", "run the container from this root filesystem directory instead of an image")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.BoolVarP(&f.detach, "detach", "d", false, "run the container in the background")
	fl.BoolVarP(&o.Interactive, "interactive", "i", false, "keep stdin open and pass it to the container")
	fl.BoolVarP(&o.TTY, "tty", "t", false, "give the container a terminal")
	fl.StringVar(&f.name, "name", "", "name the container")
	fl.StringVar(&o.Hostname, "hostname", "", "container host name (default: the first 12 characters of its ID)")
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to copy the host's)")
	fl.StringArrayVar(&o.EnvFiles, "env-file", nil, "read environment variables from a file")
	fl.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&o.User, "user", "u", "", "user to run as: uid[:gid] or name[:group]")
	fl.BoolVar(&o.Privileged, "privileged", false, "give the container all capabilities and host devices, without masked paths")
	fl.StringVarP(&o.Memory, "memory", "m", "", "memory limit (e.g. 256m, 1g)")
	fl.StringVar(&o.CPUs, "cpus", "", "number of CPUs (e.g. 0.5)")
	fl.Int64VarP(&o.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight, 1024 by default)")
	fl.Int64Var(&o.PidsLimit, "pids-limit", 0, "maximum number of processes (-1 for unlimited)")
	fl.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container port: [hostip:]hostport:containerport[/tcp|/udp] (bridge networks only)")
	fl.StringVar(&f.pull, "pull", "missing", "pull the image: missing (when not stored), always, or never")
	fl.BoolVar(&f.tlsVerify, "tls-verify", true, "when pulling, require https with a trusted certificate")
	fl.StringVar(&o.Entrypoint, "entrypoint", "", "run this program instead of the image's entrypoint (the image's Cmd is dropped too)")
	fl.StringVar(&o.Network, "network", "bridge", "network: bridge (berth0, 10.88.0.0/16, outbound NAT), a network made with berth network create, none (loopback only), host, or container:NAME")
	return cmd
}

func runContainer(g *globalOptions, f *runFlags, args []string) error {
	if os.Geteuid() != 0 {
		return errors.New("berth run needs root: run it as root or with sudo (rootless containers are not supported yet)")
	}
	if f.detach {
		return errors.New("--detach is not supported yet: run the container in the foreground")
	}
	o := &f.opts
	if o.Interactive && o.TTY && !terminal.IsTerminal(os.Stdin) {
		return errors.New("the input device is not a TTY: drop -t, or run berth from a terminal")
	}
	id, err := newID()
	if err != nil {
		return err
	}
	var snap *snapshot.Snapshot
	if o.Rootfs == "" {
		if len(args) == 0 {
			return errors.New("no image given: berth run IMAGE [COMMAND...], or berth run --rootfs DIR COMMAND...")
		}
		if snap, err = imageRootfs(g, f, id, args[0]); err != nil {
			return err
		}
		defer snap.Remove()
		args = args[1:]
	}
	o.Args = args
	if o.Hostname == "" {
		o.Hostname = id[:12]
	}
	if ref, ok := strings.CutPrefix(o.Network, "container:"); ok {
		if o.NetworkFrom, err = networkOf(g, ref); err != nil {
			return err
		}
	}
	s, err := spec.FromRunOptions(*o)
	if err != nil {
		return err
	}
	run := container.Options{StateRoot: g.runroot, ID: id, Name: f.name, Spec: s, Stdout: os.Stdout, Stderr: os.Stderr}
	if snap != nil {
		run.RootOverlay = snap.Overlay
	}
	if o.Interactive {
		run.Stdin = os.Stdin
	}
	bridged := o.Network != "none" && o.Network != "host" && !strings.HasPrefix(o.Network, "container:")
	if len(f.publish) > 0 && !bridged {
		return fmt.Errorf("-p publishes ports of a bridge network, and --network %s has none: drop -p or --network", o.Network)
	}
	if bridged {
		release, err := joinNetwork(g, f, id, s, &run)
		if err != nil {
			return err
		}
		defer release()
	}
	exit, err := container.Run(run)
	if err != nil {
		return err
	}
	if exit.OOMKilled {
		fmt.Fprintf(os.Stderr, "berth: container killed: it reached its memory limit (--memory %s)\n", o.Memory)
	}
	if exit.Code != 0 {
		return exitError{exit.Code}
	}
	return nil
}

// imageRootfs gives container id its root filesystem from image ref,
// pulling the image first if --pull says so, and fills in the image's
// defaults for the command, environment, working directory and user.
func imageRootfs(g *globalOptions, f *runFlags, id, ref string) (*snapshot.Snapshot, error) {
	driver, err := snapshot.ParseDriver(g.storageDriver)
	if err != nil {
		return nil, err
	}
	store, err := g.imageStore()
	if err != nil {
		return nil, err
	}
	// Held until the snapshot records the image: from then on it is in
	// use, and rmi or prune leave it alone.
	release, err := store.Hold()
	if err != nil {
		return nil, err
	}
	defer release()
	img, err := findOrPull(store, f, ref)
	if err != nil {
		return nil, err
	}
	cfg, err := store.Config(img.ID)
	if err != nil {
		return nil, err
	}
	lower, err := store.LowerDirs(img.ID)
	if err != nil {
		return nil, err
	}
	snaps := g.snapshots()
	snaps.Collect()
	snap, err := snaps.Create(id, img.ID, lower, driver, func(dst string) error { return store.Materialize(img.ID, dst) })
	if err != nil {
		return nil, err
	}
	o := &f.opts
	o.Rootfs = snap.Rootfs
	o.Image = &spec.ImageConfig{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: cfg.Env, WorkingDir: cfg.WorkingDir, User: cfg.User}
	if snap.Overlay != nil {
		// The union is mounted only inside the container: look users up
		// through the layers.
		o.UserRoots = lower
	}
	return snap, nil
}

// findOrPull finds ref in the store, pulling it as --pull says.
func findOrPull(store *image.Store, f *runFlags, ref string) (*image.Image, error) {
	switch f.pull {
	case "missing", "always", "never":
	default:
		return nil, fmt.Errorf("invalid --pull %q: use missing, always or never", f.pull)
	}
	if f.pull != "always" {
		img, err := store.Get(ref)
		if err == nil || f.pull == "never" || !errors.Is(err, image.ErrNotFound) {
			return img, err
		}
		fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", ref)
	}
	ctx, cancel := interruptible()
	defer cancel()
	return store.Pull(ctx, ref, image.PullOptions{Insecure: !f.tlsVerify, Progress: progress.NewRenderer(os.Stderr)})
}

// newID returns a container ID: 64 hex digits, as Docker's.
func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate container ID: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// joinNetwork puts the container on a bridge network (the default one,
// or one made with berth network create): address, network files mounted
// over /etc/hosts, /etc/hostname and /etc/resolv.conf, and the veth
// plugged in while the init stage waits.
func joinNetwork(g *globalOptions, f *runFlags, id string, s *specs.Spec, run *container.Options) (func(), error) {
	var ports []nft.Port
	for _, p := range f.publish {
		port, err := nft.ParsePort(p)
		if err != nil {
			return nil, err
		}
		ports = append(ports, port)
	}
	n, err := network.Load(g.root, f.opts.Network)
	if errors.Is(err, network.ErrNotFound) {
		return nil, fmt.Errorf("network %q not found: create it with berth network create, or use --network bridge, none or host", f.opts.Network)
	}
	if err != nil {
		return nil, err
	}
	n.Collect()
	names := []string{s.Hostname}
	if f.name != "" && f.name != s.Hostname {
		names = append(names, f.name)
	}
	a, err := n.Attach(id, names, ports)
	if err != nil {
		return nil, err
	}
	s.Mounts = append(s.Mounts, a.Mounts()...)
	run.Prepare = a.Connect
	return func() { _ = a.Release() }, nil
}

// networkOf is the network namespace of the running container ref (name,
// ID or unique ID prefix), for --network container:REF.
func networkOf(g *globalOptions, ref string) (string, error) {
	rec, err := state.Store{Root: g.runroot}.Find(ref)
	if err != nil {
		return "", fmt.Errorf("--network container:%s: %w", ref, err)
	}
	if rec.Status != state.Running || !state.Alive(rec.Pid, rec.PidStart) {
		return "", fmt.Errorf("--network container:%s: that container is not running", ref)
	}
	return "/proc/" + strconv.Itoa(rec.Pid) + "/ns/net", nil
}
