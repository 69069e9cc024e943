package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berth-runtime/berth/internal/checkpoint"
	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/network/nft"
	"github.com/berth-runtime/berth/internal/network/usermode"
	"github.com/berth-runtime/berth/internal/pidfd"
	"github.com/berth-runtime/berth/internal/progress"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/snapshot"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	restart    string
	mounts     mountFlags
	// id and monitor are set when berth runs as a container's monitor
	// (see monitor.go): the container's record exists already.
	id      string
	monitor bool
	// restore is a checkpoint the monitor's first run restores instead of
	// starting the container anew (berth container restore).
	restore    string
	restoreTCP bool
	// userns, uidmaps and gidmaps are --userns, --uidmap and --gidmap.
	userns           string
	uidmaps, gidmaps []string
	// userMode connects a rootless container's own network namespace to
	// the host through slirp4netns (rootless --network bridge).
	userMode bool
}

func newRunCommand(g *globalOptions) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND] [ARG...]",
		Short: "Run a command in a new container",
		Example: `  berth run --rm alpine echo hello
  berth run --rm -it busybox sh
  berth run -d --name web -p 8080:80 --restart on-failure busybox httpd -f -p 80
  berth run --rm --rootfs ./rootfs --hostname box --pids-limit 64 --memory 256m --cpus 0.5 -e FOO=bar -- /bin/sh -c 'hostname; ps; echo $FOO'
  echo hi | berth run --rm -i --rootfs ./rootfs cat`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.opts.EntrypointSet = cmd.Flags().Changed("entrypoint")
			return runContainer(g, f, cmd.Flags(), args)
		},
	}
	fl := cmd.Flags()
	// Everything after the image or command belongs to the container.
	fl.SetInterspersed(false)
	o := &f.opts
	fl.StringVar(&o.Rootfs, "rootfs", "", "run the container from this root filesystem directory instead of an image")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.BoolVarP(&f.detach, "detach", "d", false, "run the container in the background and print its ID")
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
	fl.StringVar(&o.Network, "network", "bridge", "network: bridge (berth0, 10.88.0.0/16, outbound NAT), a network made with berth network create, none (loopback only), host, or container:NAME (rootless: none by default, bridge through slirp4netns)")
	fl.StringVar(&f.restart, "restart", "no", "restart policy of a detached container: no, on-failure[:N], always, unless-stopped")
	addMountFlags(fl, &f.mounts)
	addUsernsFlags(fl, f)
	fl.StringVar(&f.id, "id", "", "")
	fl.BoolVar(&f.monitor, "monitor", false, "")
	fl.StringVar(&f.restore, "restore", "", "")
	fl.BoolVar(&f.restoreTCP, "restore-tcp-established", false, "")
	_ = fl.MarkHidden("id")
	_ = fl.MarkHidden("monitor")
	_ = fl.MarkHidden("restore")
	_ = fl.MarkHidden("restore-tcp-established")
	return cmd
}

func runContainer(g *globalOptions, f *runFlags, fl *pflag.FlagSet, args []string) error {
	o := &f.opts
	if err := rootlessNetwork(f, fl); err != nil {
		return err
	}
	if o.Interactive && o.TTY && !terminal.IsTerminal(os.Stdin) && !f.detach && !f.monitor {
		return errors.New("the input device is not a TTY: drop -t, or run berth from a terminal")
	}
	if _, err := managed.ParsePolicy(f.restart); err != nil {
		return err
	}
	if err := applyUsernsDefault(fl, f); err != nil {
		return err
	}
	// Checked before anything is made for the container.
	if _, err := f.usernsMode(); err != nil {
		return err
	}
	switch {
	case f.monitor:
		return runMonitor(g, f, args)
	case f.detach:
		return runDetached(g, f, fl, args)
	}
	if f.restart != "no" {
		return errors.New("--restart needs a detached container (-d): a foreground container ends with berth")
	}
	return runForeground(g, f, fl, args)
}

// runForeground runs the container with berth's own stdio and waits for
// it; berth is its monitor.
func runForeground(g *globalOptions, f *runFlags, fl *pflag.FlagSet, args []string) error {
	store := g.containers()
	rec, err := newRecord(f, fl, args)
	if err != nil {
		return err
	}
	owner, err := store.Create(rec)
	if err != nil {
		return err
	}
	started := false
	defer func() {
		owner.Release()
		if !started || f.rm {
			if store.Remove(rec) == nil {
				_ = g.idRanges().Release(rec.ID)
			}
		}
	}()
	// The user's terminal stays with berth: the container gets pipes.
	io := stdio{out: os.Stdout, err: os.Stderr, relay: true}
	if f.opts.Interactive {
		io.in = os.Stdin
	}
	exit, err := runOnce(g, f, &rec, args, io, func(int) { started = true })
	if err != nil {
		return err
	}
	if !f.rm {
		finishRecord(store, rec.ID, exit, nil, true)
	}
	if exit.OOMKilled {
		fmt.Fprintf(os.Stderr, "berth: container killed: it reached its memory limit (--memory %s)\n", f.opts.Memory)
	}
	if exit.Code != 0 {
		return exitError{exit.Code}
	}
	return nil
}

// newRecord is a new container's record: a fresh ID, its name, and the
// arguments that run it again.
func newRecord(f *runFlags, fl *pflag.FlagSet, args []string) (managed.Record, error) {
	id, err := newID()
	if err != nil {
		return managed.Record{}, err
	}
	policy, _ := managed.ParsePolicy(f.restart)
	dir, _ := os.Getwd()
	rec := managed.Record{
		ID: id, Name: f.name, Created: time.Now().UTC(), Args: replayFlags(fl), Command: args,
		Env: replayEnv(f.opts.Env, f.opts.EnvFiles), Dir: dir, AutoRemove: f.rm, Detached: f.detach, Restart: policy,
		State: managed.State{Status: managed.Created},
	}
	if rec.Name == "" {
		rec.Name = randomName(id)
	}
	if !spec.ValidName(rec.Name) {
		return managed.Record{}, fmt.Errorf("invalid container name %q: use letters, digits, _ . - (not first), at most 64", rec.Name)
	}
	if f.opts.Rootfs == "" && len(args) > 0 {
		rec.Image = args[0]
	}
	return rec, nil
}

// replayEnv is the part of berth's environment a replay of the run needs:
// the values that -e KEY and --env-file lines without = copy, and PATH.
// The rest of the user's environment, secrets included, is not written
// to disk.
func replayEnv(env, files []string) []string {
	out := []string{"PATH=" + os.Getenv("PATH")}
	for _, file := range files {
		if lines, err := spec.ReadEnvFile(file); err == nil {
			env = append(env, lines...)
		}
	}
	for _, e := range env {
		if strings.Contains(e, "=") {
			continue
		}
		if v, ok := os.LookupEnv(e); ok {
			out = append(out, e+"="+v)
		}
	}
	return out
}

// replayFlags are the run flags as given, to run the container again the
// same way (berth start, restarts); -d and berth's internal flags aside.
func replayFlags(fl *pflag.FlagSet) []string {
	var out []string
	fl.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "detach", "id", "monitor", "name", "rm", "restart", "root", "runroot", "storage-driver", "restore", "restore-tcp-established":
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+f.Name+"="+v)
			}
			return
		}
		out = append(out, "--"+f.Name+"="+f.Value.String())
	})
	return out
}

// stdio is where a run's standard streams go; a nil in reads /dev/null.
// relay copies them through pipes (they are the user's own files). With a
// terminal, takeTerminal (if set) receives the pty master.
type stdio struct {
	in, out, err *os.File
	relay        bool
	takeTerminal func(master *os.File)
}

// runOnce is one run of a container, from its root filesystem to its
// exit: the path every berth container takes, foreground or monitored.
// started is called once its program runs.
func runOnce(g *globalOptions, f *runFlags, rec *managed.Record, args []string, io stdio, started func(pid int)) (container.Exit, error) {
	o := f.opts
	store := g.containers()
	run := container.Options{StateRoot: g.runroot, ID: rec.ID, Stdin: io.in, Stdout: io.out, Stderr: io.err, RelayStdio: io.relay,
		KeepSpec: true, TakeTerminal: io.takeTerminal, Rootless: rootless.Active()}
	ns, err := resolveUserns(g, f, rec, &o)
	if err != nil {
		return container.Exit{}, err
	}
	if o.Rootfs == "" {
		if len(args) == 0 {
			return container.Exit{}, errors.New("no image given: berth run IMAGE [COMMAND...], or berth run --rootfs DIR COMMAND...")
		}
		snap, err := imageRootfs(g, f, rec, &o, args[0], ns != nil)
		if err != nil {
			return container.Exit{}, err
		}
		if ns != nil {
			if err := prepareUsernsRootfs(g, rec.ID, snap, ns); err != nil {
				return container.Exit{}, err
			}
		}
		run.RootOverlay = snap.Overlay
		args = args[1:]
	}
	if ns != nil {
		r, err := store.Update(rec.ID, func(r *managed.Record) { r.UserNS = ns })
		if err != nil {
			return container.Exit{}, err
		}
		*rec = r
	}
	o.Args = args
	if o.Hostname == "" {
		o.Hostname = rec.ID[:12]
	}
	if ref, ok := strings.CutPrefix(o.Network, "container:"); ok {
		netns, release, err := networkOf(g, ref)
		if err != nil {
			return container.Exit{}, err
		}
		defer release()
		o.NetworkFrom = netns
	}
	mounts, err := f.mounts.resolve(g, rec, &o)
	if err != nil {
		return container.Exit{}, err
	}
	defer mounts.release()
	s, err := spec.FromRunOptions(o)
	if err != nil {
		return container.Exit{}, err
	}
	run.Spec = s
	net := &managed.Network{Mode: o.Network}
	bridged := o.Network != "none" && o.Network != "host" && !strings.HasPrefix(o.Network, "container:")
	if f.userMode {
		release, err := joinUserModeNetwork(g, f, rec, &run, net)
		if err != nil {
			return container.Exit{}, err
		}
		defer release()
	}
	if len(f.publish) > 0 && !bridged && !f.userMode {
		return container.Exit{}, fmt.Errorf("-p publishes ports of a bridge network, and --network %s has none: drop -p or --network", o.Network)
	}
	if bridged {
		release, err := joinNetwork(g, f, rec, s, &run, net)
		if err != nil {
			return container.Exit{}, err
		}
		defer release()
	}
	run.Started = func(pid int) {
		mounts.keep()
		if r, err := store.Update(rec.ID, func(r *managed.Record) {
			r.ImageID = rec.ImageID
			r.Network = net
			r.State = managed.State{Status: managed.Running, Pid: pid, MonitorPid: os.Getpid(), MonitorStart: selfStart(),
				StartedAt: time.Now().UTC(), RestartCount: r.State.RestartCount}
		}); err == nil {
			*rec = r
		}
		if started != nil {
			started(pid)
		}
	}
	if dir := f.restore; dir != "" {
		f.restore = "" // a restart runs the container anew
		return container.RunRestored(run, checkpoint.Options{ImagePath: dir, TCPEstablished: f.restoreTCP}, "")
	}
	return container.Run(run)
}

// finishRecord records how a run ended. The monitor stays on record while
// it lives (a restart's back-off), so that berth stop can reach it;
// monitorGone clears it.
func finishRecord(store managed.Store, id string, exit container.Exit, runErr error, monitorGone bool) managed.Record {
	rec, _ := store.Update(id, func(r *managed.Record) {
		st := &r.State
		st.Status, st.Pid = managed.Exited, 0
		if monitorGone {
			st.MonitorPid, st.MonitorStart = 0, 0
		}
		st.FinishedAt = time.Now().UTC()
		st.ExitCode, st.OOMKilled, st.Error = exit.Code, exit.OOMKilled, ""
		if runErr != nil {
			st.ExitCode, st.Error = exitRuntimeError, runErr.Error()
			var se *container.StartError
			if errors.As(runErr, &se) && se.Code != 0 {
				st.ExitCode = se.Code
			}
		}
	})
	return rec
}

// selfStart is this process's start time, which names it together with
// its PID in a container's record (a signal to the monitor checks it).
var selfStart = sync.OnceValue(func() uint64 {
	start, _, _ := pidfd.Stat(os.Getpid())
	return start
})

// newID returns a container ID: 64 hex digits, as Docker's.
func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate container ID: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// imageRootfs gives the container its root filesystem from image ref,
// pulling the image first if --pull says so, and fills in the image's
// defaults for the command, environment, working directory and user.
func imageRootfs(g *globalOptions, f *runFlags, rec *managed.Record, o *spec.RunOptions, ref string, userns bool) (*snapshot.Snapshot, error) {
	driver, err := snapshot.ParseDriver(g.storageDriver)
	if err != nil {
		return nil, err
	}
	if userns && driver == snapshot.Overlay && !rootfs.IDMappedOverlay() {
		// The layers cannot be shown through the namespace's mapping:
		// the container gets a copy, chowned into its range.
		driver = snapshot.Copy
	}
	store, err := g.imageStore()
	if err != nil {
		return nil, err
	}
	// Held until the container's record names the image: from then on
	// it is in use, and rmi or prune leave it alone.
	release, err := store.Hold()
	if err != nil {
		return nil, err
	}
	defer release()
	img, err := findOrPull(store, f, ref)
	if err != nil {
		return nil, err
	}
	rec.ImageID = img.ID
	if _, err := g.containers().Update(rec.ID, func(r *managed.Record) { r.ImageID = img.ID }); err != nil {
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
	snap, err := snapshot.Prepare(g.containerDir(rec.ID), lower, driver, func(dst string) error { return store.Materialize(img.ID, dst) })
	if err != nil {
		return nil, err
	}
	o.Rootfs = snap.Rootfs
	o.Image = &spec.ImageConfig{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: cfg.Env, WorkingDir: cfg.WorkingDir, User: cfg.User}
	if snap.Overlay != nil {
		// The union is mounted only inside the container: look users up
		// through the layers.
		o.UserRoots = lower
	}
	return snap, nil
}

// findOrPull finds ref in the store, pulling it as --pull says. A
// monitor never pulls: berth run -d did before starting it.
func findOrPull(store *image.Store, f *runFlags, ref string) (*image.Image, error) {
	switch f.pull {
	case "missing", "always", "never":
	default:
		return nil, fmt.Errorf("invalid --pull %q: use missing, always or never", f.pull)
	}
	if f.pull != "always" || f.monitor {
		img, err := store.Get(ref)
		if err == nil || f.pull == "never" || f.monitor || !errors.Is(err, image.ErrNotFound) {
			return img, err
		}
		fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", ref)
	}
	ctx, cancel := interruptible()
	defer cancel()
	return store.Pull(ctx, ref, image.PullOptions{Insecure: !f.tlsVerify, Progress: progress.NewRenderer(os.Stderr)})
}

// joinNetwork puts the container on a bridge network (the default one,
// or one made with berth network create): address, network files mounted
// over /etc/hosts, /etc/hostname and /etc/resolv.conf, and the veth
// plugged in while the init stage waits. info is filled in for inspect.
func joinNetwork(g *globalOptions, f *runFlags, rec *managed.Record, s *specs.Spec, run *container.Options, info *managed.Network) (func(), error) {
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
	names := []string{s.Hostname}
	if rec.Name != "" && rec.Name != s.Hostname {
		names = append(names, rec.Name)
	}
	a, err := n.Attach(rec.ID, names, ports)
	if err != nil {
		return nil, err
	}
	s.Mounts = append(s.Mounts, a.Mounts()...)
	run.Prepare = a.Connect
	info.IPAddress, info.Gateway = a.Addr.String(), n.Subnet.Addr().Next().String()
	for _, p := range ports {
		info.Ports = append(info.Ports, p.String())
	}
	return func() { _ = a.Release() }, nil
}

// joinUserModeNetwork connects a rootless container's network namespace
// to the host through slirp4netns while its init stage waits, and
// publishes its ports there; release ends slirp4netns.
func joinUserModeNetwork(g *globalOptions, f *runFlags, rec *managed.Record, run *container.Options, info *managed.Network) (func(), error) {
	var ports []nft.Port
	for _, p := range f.publish {
		port, err := nft.ParsePort(p)
		if err != nil {
			return nil, err
		}
		ports = append(ports, port)
	}
	var stack *usermode.Stack
	api := filepath.Join(g.runroot, "slirp4netns-"+rec.ID[:12]+".sock")
	run.Prepare = func(pid int) error {
		var err error
		stack, err = usermode.Start(pid, api, ports)
		return err
	}
	info.Mode, info.IPAddress, info.Gateway = "bridge (slirp4netns)", usermode.Address, usermode.Gateway
	for _, p := range ports {
		info.Ports = append(info.Ports, p.String())
	}
	return func() {
		if stack != nil {
			stack.Stop()
		}
	}, nil
}

// networkOf is the network namespace of the running container ref (name,
// ID or unique ID prefix), for --network container:REF: a path that pins
// it until release.
func networkOf(g *globalOptions, ref string) (string, func(), error) {
	rec, err := g.containers().Get(ref)
	if err != nil {
		return "", nil, fmt.Errorf("--network container:%s: %w", ref, err)
	}
	notRunning := fmt.Errorf("--network container:%s: that container is not running", ref)
	if rec.State.Status != managed.Running || rec.State.Pid == 0 {
		return "", nil, notRunning
	}
	c, err := container.Attach(g.runroot, rec.ID)
	if err != nil {
		return "", nil, notRunning
	}
	// Pinned, not named by PID: the container may end meanwhile.
	path, release, err := c.PinNamespace("net")
	if errors.Is(err, container.ErrNotRunning) {
		return "", nil, notRunning
	}
	return path, release, err
}
