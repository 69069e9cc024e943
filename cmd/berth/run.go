package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/progress"
	"github.com/berth-runtime/berth/internal/registry/client"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/terminal"
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
	// (engine.Monitor): the container's record exists already.
	id      string
	monitor bool
	// restore is a checkpoint the monitor's first run restores instead of
	// starting the container anew (berth container restore).
	restore    string
	restoreTCP bool
	// userns, uidmaps and gidmaps are --userns, --uidmap and --gidmap.
	userns           string
	uidmaps, gidmaps []string
	// userMode names the user-mode stack, pasta or slirp4netns, that
	// connects a rootless container's own network namespace to the host
	// (rootless --network bridge, pasta or slirp4netns).
	userMode string
	// options are --cap-add, --security-opt, --ulimit, --label, ...
	options optionFlags
	// net are --expose, -P, --ip, --mac-address, --network-alias, ...
	net netFlags
	// misc are --platform, --volumes-from and the refused options.
	misc miscFlags
	// health are --health-*, --no-healthcheck and --init.
	health healthFlags
	// res are the device and resource options (run_res.go).
	res resFlags
	// fg are -a, --sig-proxy, --detach-keys, --log-driver, --log-opt, -q.
	fg fgFlags
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
	addRunFlags(fl, f)
	fl.BoolVarP(&f.detach, "detach", "d", false, "run the container in the background and print its ID")
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

// addRunFlags are the options run and create share, as docker's: one
// flag set, so that create takes every option run does.
func addRunFlags(fl *pflag.FlagSet, f *runFlags) {
	// Everything after the image or command belongs to the container.
	fl.SetInterspersed(false)
	o := &f.opts
	fl.StringVar(&o.Rootfs, "rootfs", "", "run the container from this root filesystem directory instead of an image")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.BoolVarP(&o.Interactive, "interactive", "i", false, "keep stdin open and pass it to the container")
	fl.BoolVarP(&o.TTY, "tty", "t", false, "give the container a terminal")
	fl.StringVar(&f.name, "name", "", "name the container")
	fl.StringVarP(&o.Hostname, "hostname", "h", "", "container host name (default: the first 12 characters of its ID)")
	stringArrayVarP(fl, &o.Env, "env", "e", "set an environment variable (KEY=VALUE, or KEY to copy the host's)")
	stringArrayVarP(fl, &o.EnvFiles, "env-file", "", "read environment variables from a file")
	fl.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&o.User, "user", "u", "", "user to run as: uid[:gid] or name[:group]")
	fl.BoolVar(&o.Privileged, "privileged", false, "give the container all capabilities and host devices, without masked paths")
	fl.StringVarP(&o.Memory, "memory", "m", "", "memory limit (e.g. 256m, 1g)")
	fl.StringVar(&o.CPUs, "cpus", "", "number of CPUs (e.g. 0.5)")
	fl.Int64VarP(&o.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight, 1024 by default)")
	fl.Int64Var(&o.PidsLimit, "pids-limit", 0, "maximum number of processes (-1 for unlimited)")
	stringArrayVarP(fl, &f.publish, "publish", "p", "publish a container port: [[hostip:][hostport[-end]]:]containerport[-end][/tcp|/udp|/sctp]; no host port: a random one (bridge networks only)")
	fl.StringVar(&f.pull, "pull", "missing", "pull the image: missing (when not stored), always, or never")
	fl.BoolVar(&f.tlsVerify, "tls-verify", true, "when pulling, require https with a trusted certificate")
	fl.StringVar(&o.Entrypoint, "entrypoint", "", "run this program instead of the image's entrypoint (the image's Cmd is dropped too)")
	fl.StringVar(&o.Network, "network", "bridge", "network: bridge (berth0, 10.88.0.0/16, outbound NAT), a network made with berth network create, none (loopback only), host, or container:NAME (rootless: none by default; bridge is pasta if installed, else slirp4netns; pasta and slirp4netns choose)")
	fl.StringVar(&f.restart, "restart", "no", "restart policy: no, on-failure[:N], always, unless-stopped (in the foreground, berth returns the first run's status)")
	addMountFlags(fl, &f.mounts)
	addUsernsFlags(fl, f)
	addOptionFlags(fl, &f.options)
	addNetFlags(fl, &f.net)
	addMiscFlags(fl, &f.misc)
	addHealthFlags(fl, &f.health)
	addResFlags(fl, &f.res)
	addFgFlags(fl, &f.fg)
}

func runContainer(g *globalOptions, f *runFlags, fl *pflag.FlagSet, args []string) error {
	if f.monitor {
		var restore *engine.Restore
		if f.restore != "" {
			restore = &engine.Restore{Dir: f.restore, TCPEstablished: f.restoreTCP}
		}
		return g.engine().Monitor(f.id, restore)
	}
	o := &f.opts
	if o.Interactive && o.TTY && !terminal.IsTerminal(os.Stdin) && !f.detach {
		return errors.New("the input device is not a TTY: drop -t, or run berth from a terminal")
	}
	e := g.engine()
	cfg, create, err := f.prepare(g, fl, args)
	if err != nil {
		return err
	}
	cidfile, err := engine.CreateCIDFile(f.options.cidfile)
	if err != nil {
		return err
	}
	rec, owner, err := e.Create(cfg, create)
	if err == nil {
		err = cidfile.Write(rec.ID)
	}
	if err != nil {
		cidfile.Discard()
		return err
	}
	if f.detach {
		if err := e.RunDetached(rec, owner); err != nil {
			discardIfGone(g, cidfile, rec)
			return err
		}
		fmt.Println(rec.ID)
		return nil
	}
	if f.fg.monitored(&cfg, f.restart) {
		if err := runMonitored(g, f, rec, owner); err != nil {
			discardIfGone(g, cidfile, rec)
			return err
		}
		return nil
	}
	// The user's terminal stays with berth: the container gets pipes.
	exit, warnings, err := e.Run(rec, owner, f.fg.stdio())
	printWarnings(warnings)
	if err != nil {
		discardIfGone(g, cidfile, rec)
		return err
	}
	if exit.OOMKilled {
		printError(fmt.Errorf("container killed: it reached its memory limit (--memory %s)", o.Memory))
	}
	if exit.Code != 0 {
		return exitError{exit.Code}
	}
	return nil
}

// prepare checks the flags and resolves them into the container's
// configuration, pulling its image: everything run and create do before
// the container's record exists. f.detach is set for create, whose
// container berth start runs under a monitor, as run -d's.
func (f *runFlags) prepare(g *globalOptions, fl *pflag.FlagSet, args []string) (managed.Config, engine.CreateOptions, error) {
	var none engine.CreateOptions
	o := &f.opts
	if err := rootlessNetwork(f, fl); err != nil {
		return managed.Config{}, none, err
	}
	policy, err := managed.ParsePolicy(f.restart)
	if err != nil {
		return managed.Config{}, none, err
	}
	if err := applyUsernsDefault(fl, f); err != nil {
		return managed.Config{}, none, err
	}
	// Checked before anything is made for the container.
	keepID, err := f.usernsMode()
	if err != nil {
		return managed.Config{}, none, err
	}
	if err := f.checkRootReachable(g.root); err != nil {
		return managed.Config{}, none, err
	}
	if f.detach && o.Interactive && !o.TTY {
		return managed.Config{}, none, errors.New("-i with -d (or create) needs -t: berth attach joins a detached container's terminal (-dit), not a bare stdin")
	}
	if err := f.misc.check(fl); err != nil {
		return managed.Config{}, none, err
	}
	cfg, err := f.config(args, keepID)
	if err != nil {
		return managed.Config{}, none, err
	}
	if err := f.net.apply(&cfg); err != nil {
		return managed.Config{}, none, err
	}
	if err := f.misc.apply(g, &cfg); err != nil {
		return managed.Config{}, none, err
	}
	if err := f.health.apply(&cfg, fl); err != nil {
		return managed.Config{}, none, err
	}
	if err := f.res.apply(&cfg, fl); err != nil {
		return managed.Config{}, none, err
	}
	if err := f.options.apply(&cfg, fl); err != nil {
		return managed.Config{}, none, err
	}
	if err := f.fg.apply(&cfg, fl); err != nil {
		return managed.Config{}, none, err
	}
	if !f.detach {
		if err := f.fg.checkMonitored(&cfg, f.restart); err != nil {
			return managed.Config{}, none, err
		}
	}
	if err := g.engine().Check(); err != nil {
		return managed.Config{}, none, err
	}
	// A foreground run under a monitor is started as run -d's.
	create := engine.CreateOptions{Name: f.name, Restart: policy, AutoRemove: f.rm, Detached: f.detach || f.fg.monitored(&cfg, f.restart)}
	if o.Rootfs == "" && len(args) > 0 {
		// Pulled here, with progress on this terminal.
		create.Image = args[0]
		if err := findOrPull(g, f, args[0]); err != nil {
			return managed.Config{}, none, err
		}
	}
	return cfg, create, nil
}

// discardIfGone removes the --cidfile of a container that failed to
// start and was removed: a failed run leaves nothing behind.
func discardIfGone(g *globalOptions, c *engine.CIDFile, rec managed.Record) {
	if _, err := g.containers().Get(rec.ID); err != nil {
		c.Discard()
	}
}

// printWarnings shows what the engine could not do without failing.
func printWarnings(w engine.Warnings) {
	for _, line := range w {
		printWarning(line)
	}
}

// config is the container the flags describe, resolved: the environment
// that -e KEY copies and --env-file's lines are read now, and the mount
// flags parsed and checked, so that every later start (berth start, a
// restart) runs the same container whatever the environment then.
func (f *runFlags) config(args []string, keepID *managed.IDPair) (managed.Config, error) {
	o := &f.opts
	var env []string
	for _, file := range o.EnvFiles {
		lines, err := spec.ReadEnvFile(file)
		if err != nil {
			return managed.Config{}, err
		}
		env = append(env, lines...)
	}
	env, err := spec.ExpandEnv(append(env, o.Env...), os.LookupEnv)
	if err != nil {
		return managed.Config{}, err
	}
	mounts, err := f.mounts.parse()
	if err != nil {
		return managed.Config{}, err
	}
	cfg := managed.Config{
		Rootfs: o.Rootfs, Cmd: args, Hostname: o.Hostname, Env: env, WorkingDir: o.Workdir, User: o.User,
		Tty: o.TTY, OpenStdin: o.Interactive, Privileged: o.Privileged, Memory: o.Memory, CPUs: o.CPUs,
		CPUShares: o.CPUShares, PidsLimit: o.PidsLimit, NetworkMode: o.Network, UserModeNetwork: managed.UserModeTool(f.userMode),
		Ports: f.publish, Mounts: mounts, ReadonlyRootfs: f.mounts.readOnly,
		Userns: f.userns, UIDMaps: f.uidmaps, GIDMaps: f.gidmaps, KeepID: keepID,
	}
	if o.Rootfs == "" && len(args) > 0 {
		cfg.Cmd = args[1:]
	}
	if o.EntrypointSet {
		entrypoint := o.Entrypoint
		cfg.Entrypoint = &entrypoint
	}
	return cfg, nil
}

// findOrPull makes sure the store has ref, pulling it as --pull says.
func findOrPull(g *globalOptions, f *runFlags, ref string) error {
	switch f.pull {
	case "missing", "always", "never":
	default:
		return fmt.Errorf("invalid --pull %q: use missing, always or never", f.pull)
	}
	store, err := g.imageStore()
	if err != nil {
		return err
	}
	if f.pull != "always" {
		_, err := store.Get(ref)
		if err == nil || f.pull == "never" || !errors.Is(err, image.ErrNotFound) {
			return err
		}
		if !f.fg.quiet {
			fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", ref)
		}
	}
	po := client.PullOptions{Insecure: !f.tlsVerify}
	if !f.fg.quiet {
		po.Progress = progress.NewRenderer(os.Stderr)
	}
	_, err = client.Pull(g.imagesDir(), ref, po)
	return err
}
