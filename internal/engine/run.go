package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berth-runtime/berth/internal/checkpoint"
	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/health"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/network/usermode"
	"github.com/berth-runtime/berth/internal/pidfd"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/snapshot"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CreateOptions are what a new container's record holds besides its
// configuration.
type CreateOptions struct {
	// Name is --name; empty: a random one.
	Name string
	// Image is the reference the container is made from, resolved to an
	// image in the store (which must have it: pulling is the caller's);
	// empty with Config.Rootfs.
	Image      string
	Restart    managed.Policy
	AutoRemove bool
	Detached   bool
	// BuildLock makes the container a build's step (Options.BuildLock).
	BuildLock string
}

// ErrNoImage means a container was given neither an image nor a root
// filesystem.
var ErrNoImage = errdefs.New(errdefs.ErrInvalidArgument, "no image given: berth run IMAGE [COMMAND...], or berth run --rootfs DIR COMMAND...")

// Create makes a container's record from its resolved configuration and
// takes its lifetime lock, which the caller hands to Run or RunDetached.
// The image is resolved to its ID here: from then on the record names
// it, and rmi and prune leave it alone.
func (e *Engine) Create(cfg managed.Config, o CreateOptions) (managed.Record, *managed.Owner, error) {
	if cfg.Rootfs == "" && o.Image == "" {
		return managed.Record{}, nil, ErrNoImage
	}
	id, err := newID()
	if err != nil {
		return managed.Record{}, nil, err
	}
	rec := managed.Record{
		ID: id, Name: o.Name, Created: time.Now().UTC(), Image: o.Image, AutoRemove: o.AutoRemove,
		Detached: o.Detached, Restart: o.Restart, State: managed.State{Status: managed.Created}, BuildLock: o.BuildLock,
	}
	if rec.Name == "" {
		rec.Name = randomName(id)
	}
	if !spec.ValidName(rec.Name) {
		return managed.Record{}, nil, fmt.Errorf("invalid container name %q: use letters, digits, _ . - (not first), at most 64", rec.Name)
	}
	// Before the default hostname: --hostname conflicts with --uts host.
	if err := CheckConfig(cfg); err != nil {
		return managed.Record{}, nil, err
	}
	if cfg.UTSMode == "host" {
		// The host's name, which the container sees ($HOSTNAME, hosts).
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	if cfg.Rootfs != "" {
		if cfg.Rootfs, err = filepath.Abs(cfg.Rootfs); err != nil {
			return managed.Record{}, nil, err
		}
	}
	rec.Config = &cfg
	if o.Image != "" {
		store, err := e.Images()
		if err != nil {
			return managed.Record{}, nil, err
		}
		// Held until the record names the image: from then on it is in
		// use, and rmi or prune leave it alone.
		release, err := store.Hold()
		if err != nil {
			return managed.Record{}, nil, err
		}
		defer release()
		img, err := store.Get(o.Image)
		if err != nil {
			return managed.Record{}, nil, err
		}
		rec.ImageID = img.ID
		if ic, err := store.Config(img.ID); err == nil {
			if err := checkImagePlatform(o.Image, ic); err != nil {
				return managed.Record{}, nil, err
			}
			cfg.Labels = mergeLabels(ic.Labels, cfg.Labels)
			cfg.Healthcheck = health.Merge(ic.Healthcheck, cfg.Healthcheck)
		}
	}
	owner, err := e.Containers().Create(rec)
	if err != nil {
		return managed.Record{}, nil, err
	}
	return rec, owner, nil
}

// CheckConfig refuses bad options before anything is made for the
// container.
func CheckConfig(cfg managed.Config) error {
	if err := spec.CheckNamespaceModes(cfg.Extras(), cfg.Hostname != ""); err != nil {
		return err
	}
	if cfg.StopSignal != "" {
		if _, err := spec.ParseSignal(cfg.StopSignal); err != nil {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid --stop-signal: %v", err)
		}
	}
	if t := cfg.StopTimeout; t != nil && *t < -1 {
		return errdefs.New(errdefs.ErrInvalidArgument, "invalid --stop-timeout %d: give seconds, or -1 to wait for ever", *t)
	}
	if err := checkNetworkFiles(cfg); err != nil {
		return err
	}
	if err := checkResources(cfg); err != nil {
		return err
	}
	if err := checkNetOptions(cfg); err != nil {
		return err
	}
	if err := cfg.Healthcheck.Validate(); err != nil {
		return err
	}
	if cfg.Init {
		if _, err := initBinary(); err != nil {
			return err
		}
	}
	if err := spec.CheckExtras(cfg.Extras(), cfg.NetworkMode); err != nil {
		return err
	}
	return checkUlimitsRaisable(cfg.Ulimits, canRaiseLimits)
}

// checkNetworkFiles refuses --add-host and --dns where berth writes no
// /etc/hosts or resolv.conf: on a bridge network only, not a user-mode one.
func checkNetworkFiles(cfg managed.Config) error {
	files := cfg.NetworkFiles()
	if err := files.Check(); err != nil {
		return err
	}
	m := cfg.NetworkMode
	if !files.Empty() && (m == "none" || m == "host" || strings.HasPrefix(m, "container:") || cfg.UserModeNetwork != "") {
		return errdefs.New(errdefs.ErrInvalidArgument, "--add-host and --dns* set the files of a bridge network, and --network %s has none of berth's: drop them or use a bridge network", m)
	}
	return nil
}

// mergeLabels is the image's labels with the container's over them, as
// Docker's Config.Labels.
func mergeLabels(image, own map[string]string) map[string]string {
	if len(image) == 0 {
		return own
	}
	out := make(map[string]string, len(image)+len(own))
	for k, v := range image {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// ErrNoConfig is a record of a berth before managed.Config: it holds
// the command line that made the container, not its configuration.
var ErrNoConfig = errdefs.New(errdefs.ErrInvalidArgument, "was created by an older berth, whose record holds its command line instead of its configuration: remove it (berth rm) and run it again")

func configOf(rec managed.Record) (*managed.Config, error) {
	if rec.Config == nil {
		return nil, fmt.Errorf("container %s %w", rec.Name, ErrNoConfig)
	}
	return rec.Config, nil
}

// Stdio is where a run's standard streams go; a nil In reads /dev/null.
// Relay copies them through pipes (they are the user's own files). With
// a terminal, TakeTerminal (if set) receives the pty master.
type Stdio struct {
	In, Out, Err *os.File
	Relay        bool
	TakeTerminal func(master *os.File)
	// ConsoleSize is the size of a terminal given to TakeTerminal.
	ConsoleSize terminal.Size
	// Tee, with Relay, copies stdout and stderr to the log (a nil Out or
	// Err goes to the log only).
	Tee [2]io.WriteCloser
	// Handoff, when set, hands the running container to berth-monitor
	// (container.Options.Handoff) if the run holds nothing for its life
	// that berth's Go process alone would keep (handoffAllowed); attached
	// is its bridge network's attachment, if any, which it keeps open.
	Handoff func(pid int, stateLock *os.File, attached *network.Attachment) error
	// Declined is called, before the container starts, when the run
	// cannot be handed off.
	Declined func()
}

// Run runs a container created by Create in this process, with io, and
// waits for it; owner is its lifetime lock, released at the end. The
// record is removed if the container never started, or with AutoRemove.
func (e *Engine) Run(rec managed.Record, owner *managed.Owner, io Stdio) (exit container.Exit, warnings Warnings, err error) {
	store := e.Containers()
	started, removed := false, false
	// remove removes the record with the lifetime lock still held, and
	// what the container held besides it.
	remove := func() {
		removed = true
		var err error
		if owner != nil && owner.Lock != nil {
			lock := owner.Lock
			owner.Lock = nil
			err = store.RemoveOwned(rec, lock)
		} else {
			err = store.Remove(rec)
		}
		if err == nil {
			_ = e.IDRanges().Release(rec.ID)
			_ = e.collectChownedAfterRemoval(rec)
		}
	}
	defer func() {
		if !removed && (!started || rec.AutoRemove) {
			remove()
		}
		owner.Release()
	}()
	teeDone := func(w Warnings) Warnings { return w }
	if io.Relay {
		teeDone = e.teeLog(rec, &io)
	}
	var teeWarnings Warnings
	var teeOnce sync.Once
	closeTee := func() { teeOnce.Do(func() { teeWarnings = teeDone(nil) }) }
	defer func() {
		closeTee()
		warnings = append(warnings, teeWarnings...)
	}()
	ended := func() {
		if rec.AutoRemove {
			// Its log's last lines written first: the log is in the
			// container's directory.
			closeTee()
			remove()
		}
	}
	exit, warnings, err = e.runOnce(&rec, io, nil, func(int) { started = true }, ended)
	if err != nil {
		return exit, warnings, err
	}
	if !rec.AutoRemove {
		finishRecord(store, rec.ID, exit, nil, true)
	}
	return exit, warnings, nil
}

// runOptions are the spec's options from a stored configuration; its
// environment was resolved when it was created, so nothing is looked up
// in this process's.
func runOptions(c *managed.Config) spec.RunOptions {
	o := spec.RunOptions{
		Rootfs: c.Rootfs, Args: c.Cmd, Hostname: c.Hostname, Env: c.Env, Workdir: c.WorkingDir, User: c.User,
		TTY: c.Tty, Interactive: c.OpenStdin, Privileged: c.Privileged, Memory: c.Memory, CPUs: c.CPUs,
		CPUShares: c.CPUShares, PidsLimit: c.PidsLimit, Network: c.NetworkMode, ReadOnly: c.ReadonlyRootfs,
		LookupEnv: func(string) (string, bool) { return "", false }, Extras: c.Extras(),
		ResourceOptions: c.ResourceOptions,
	}
	if c.Entrypoint != nil {
		o.Entrypoint, o.EntrypointSet = *c.Entrypoint, true
	}
	return o
}

// runOnce is one run of a container, from its root filesystem to its
// exit: the path every berth container takes, foreground or monitored.
// started is called once its program runs; restore, if set, is a
// checkpoint restored instead of a new start. ended, if set, is called
// once the program's exit is known and its die event written, beside the
// removal of the container's cgroup and runtime state (Run removes a --rm
// container's record there); it is done when runOnce returns.
func (e *Engine) runOnce(rec *managed.Record, io Stdio, restore *Restore, started func(pid int), ended func()) (exit container.Exit, warnings Warnings, err error) {
	cfg, err := configOf(*rec)
	if err != nil {
		return container.Exit{}, nil, err
	}
	o := runOptions(cfg)
	store := e.Containers()
	run := container.Options{StateRoot: e.Runroot, ID: rec.ID, Stdin: io.In, Stdout: io.Out, Stderr: io.Err, RelayStdio: io.Relay,
		KeepSpec: true, TakeTerminal: io.TakeTerminal, ConsoleSize: io.ConsoleSize, Tee: io.Tee, Rootless: rootless.Active(), Warn: e.warn,
		SavedBeforeStarted: rec.Detached || cfg.Healthcheck.Enabled()}
	ns, err := e.resolveUserns(cfg, rec, &o)
	if err != nil {
		return container.Exit{}, nil, err
	}
	if o.Rootfs == "" {
		if rec.ImageID == "" {
			return container.Exit{}, nil, ErrNoImage
		}
		snap, err := e.imageRootfs(rec, &o, ns)
		if err != nil {
			return container.Exit{}, nil, err
		}
		if ns != nil {
			if err := e.prepareUsernsRootfs(rec.ID, snap, ns); err != nil {
				return container.Exit{}, nil, err
			}
		}
		run.RootOverlay = snap.Overlay
	}
	if ns != nil {
		r, err := store.Update(rec.ID, func(r *managed.Record) { r.UserNS = ns })
		if err != nil {
			return container.Exit{}, nil, err
		}
		*rec = r
	}
	if ref, ok := strings.CutPrefix(o.Network, "container:"); ok {
		netns, release, err := e.networkOf(ref)
		if err != nil {
			return container.Exit{}, nil, err
		}
		defer release()
		o.NetworkFrom = netns
	}
	for _, j := range []struct {
		flag, mode, kind string
		path             *string
	}{{"--ipc", cfg.IpcMode, "ipc", &o.IPCFrom}, {"--pid", cfg.PidMode, "pid", &o.PIDFrom}} {
		if ref, ok := strings.CutPrefix(j.mode, "container:"); ok {
			path, release, err := e.namespaceOf(j.flag, j.kind, ref)
			if err != nil {
				return container.Exit{}, nil, err
			}
			defer release()
			*j.path = path
		}
	}
	mounts, err := e.resolveMounts(cfg, rec, &o)
	if err != nil {
		return container.Exit{}, nil, err
	}
	defer func() { warnings = append(warnings, mounts.release()...) }()
	s, err := spec.FromRunOptions(o)
	if err != nil {
		return container.Exit{}, warnings, err
	}
	w, err := adaptResources(s, cfg, rec.ID)
	if warnings = append(warnings, w...); err != nil {
		return container.Exit{}, warnings, err
	}
	if cfg.Init {
		if err := withInit(s); err != nil {
			return container.Exit{}, warnings, err
		}
	}
	run.Spec = s
	net := &managed.Network{Mode: o.Network}
	// A rootless bridge (user mode) gets its own empty network namespace,
	// as none does, which its user-mode stack connects: not root's bridge.
	bridged := o.Network != "none" && o.Network != "host" && !strings.HasPrefix(o.Network, "container:") && cfg.UserModeNetwork == ""
	if cfg.UserModeNetwork != "" {
		release, err := e.joinUserModeNetwork(cfg, rec, s, &run, net)
		if err != nil {
			return container.Exit{}, warnings, err
		}
		defer release()
	}
	if err := checkPublishMode(cfg); err != nil {
		return container.Exit{}, warnings, err
	}
	var attached *network.Attachment
	var releaseNetwork func()
	if bridged {
		// A namespace made before the fork is plugged in while the
		// container is created; a user namespace must own its network
		// namespace, and a restore brings its own.
		early := restore == nil && !spec.HasNamespace(s, specs.UserNamespace)
		release, a, err := e.joinNetwork(cfg, rec, s, &run, net, early)
		if err != nil {
			return container.Exit{}, warnings, err
		}
		attached = a
		if connect := run.Prepare; early {
			run.Prepare = func(pid int) error {
				defer a.Connected()
				return connect(pid)
			}
		}
		start, wait := background(release)
		if spec.NewNamespace(s, specs.PIDNamespace) {
			// Its PID 1 reaped, nothing of the container is left to
			// use its address or ports: they are released while the
			// container's cgroup and record are removed (0.5 to 1 ms
			// off the exit).
			releaseNetwork = start
		}
		defer wait()
	}
	if io.Handoff != nil && handoffAllowed(cfg, mounts, bridged, attached, o.NetworkFrom, o.IPCFrom, o.PIDFrom) {
		run.Handoff = func(pid int, stateLock *os.File) error { return io.Handoff(pid, stateLock, attached) }
	} else if io.Declined != nil {
		io.Declined()
	}
	stopHealth := func() {}
	run.Started = func(pid int) {
		mounts.keep()
		if r, err := store.Update(rec.ID, func(r *managed.Record) {
			r.Network = net
			r.State = managed.State{Status: managed.Running, Pid: pid, MonitorPid: os.Getpid(), MonitorStart: pidfd.SelfStart(),
				StartedAt: time.Now().UTC(), RestartCount: r.State.RestartCount}
		}); err == nil {
			*rec = r
		}
		store.Event(*rec, "start")
		// Before started: whoever is told it runs (berth run -d, start,
		// restart) sees its health starting, not the last run's.
		stopHealth = e.startHealth(*rec)
		if !rec.AutoRemove {
			// For inspect once it stopped (a --rm container will not
			// be there then: its start costs nothing more). Before
			// whoever waits is told it started: a berth update that
			// follows rewrites it, and must not be overwritten.
			if err := store.SaveSpec(rec.ID, s); err != nil {
				warnings.add(err)
			}
		}
		if started != nil {
			started(pid)
		}
	}
	// Unless the container is handed off (this process then execs
	// berth-monitor) or told to whoever waits once its config is saved,
	// Started's record update and event run beside the wait for the
	// program instead of before it: a short program (a script's
	// `berth run --rm IMAGE cmd`) may be done before they are, and its
	// exit would wait for them. They keep their order, and are done
	// before anything that follows the run's end reads the record.
	startedDone := func() {}
	if run.Handoff == nil && !run.SavedBeforeStarted {
		inOrder := run.Started
		run.Started = func(pid int) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				inOrder(pid)
			}()
			startedDone = func() { <-done }
		}
	}
	// Once PID 1 is reaped, what ends the run on berth's side (the die
	// event, then ended) runs beside the removal of the container's
	// cgroup and runtime state, which is the kernel's work, instead of
	// after it.
	var endDone chan struct{}
	run.Exited = func(exit container.Exit) {
		if releaseNetwork != nil {
			releaseNetwork()
		}
		endDone = make(chan struct{})
		go func() {
			defer close(endDone)
			e.endRun(rec, exit, nil, startedDone, func() { stopHealth() }, ended)
		}()
	}
	if restore != nil && run.ConfigReady != nil {
		// A restore has no init stage to wait for the network files: its
		// mounts need them now.
		if err := run.ConfigReady(); err != nil {
			return container.Exit{}, warnings, err
		}
	}
	if restore != nil {
		exit, err = container.RunRestored(run, checkpoint.Options{ImagePath: restore.Dir, TCPEstablished: restore.TCPEstablished}, "")
	} else {
		exit, err = container.Run(run)
	}
	if endDone != nil {
		<-endDone
	} else {
		// It failed to start, or was restored (RunRestored does not
		// call Exited).
		e.endRun(rec, exit, err, startedDone, stopHealth, nil)
	}
	return exit, warnings, err
}

// endRun is what ends a run on berth's side once its program's exit (or
// its failure to start, err) is known: the start's record update and
// event done, health checks stopped, the die event, then ended, if set.
func (e *Engine) endRun(rec *managed.Record, exit container.Exit, err error, startedDone, stopHealth, ended func()) {
	startedDone()
	stopHealth()
	if rec.State.Status == managed.Running {
		e.died(*rec, exit, err)
	}
	if ended != nil {
		ended()
	}
}

// finishRecord records how a run ended. The monitor stays on record while
// it lives (a restart's back-off), so that berth stop can reach it;
// monitorGone clears it.
func finishRecord(store managed.Store, id string, exit container.Exit, runErr error, monitorGone bool) managed.Record {
	rec, _ := store.Update(id, func(r *managed.Record) {
		st := &r.State
		st.Status, st.Pid = managed.Exited, 0
		if r.Network != nil {
			r.Network.UserMode = nil // stopped with the run
		}
		if monitorGone {
			st.MonitorPid, st.MonitorStart = 0, 0
		}
		st.FinishedAt = time.Now().UTC()
		st.ExitCode, st.OOMKilled, st.Error = exit.Code, exit.OOMKilled, ""
		if runErr != nil {
			st.ExitCode, st.Error = exitCodeOf(runErr), runErr.Error()
		}
	})
	return rec
}

// exitCodeOf is the status a run that failed to start ends with: the
// init stage's (126 cannot invoke, 127 not found), else berth's own, as
// berth's command line would exit with (errdefs.Berth).
func exitCodeOf(err error) int { return errdefs.Berth.Status(err) }

// newID returns a container ID: 64 hex digits, as Docker's.
func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate container ID: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// imageRootfs gives the container its root filesystem from its image,
// and fills in the image's defaults for the command, environment,
// working directory and user.
func (e *Engine) imageRootfs(rec *managed.Record, o *spec.RunOptions, ns *managed.UserNS) (*snapshot.Snapshot, error) {
	store, err := e.Images()
	if err != nil {
		return nil, err
	}
	cfg, err := store.Config(rec.ImageID)
	if err != nil {
		return nil, err
	}
	lower, err := store.LowerDirs(rec.ImageID)
	if err != nil {
		return nil, err
	}
	snap, lower, err := e.snapshotOf(rec, ns, store, lower)
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

// joinNetwork puts the container on a bridge network (the default one,
// or one made with berth network create): address, network files mounted
// over /etc/hosts, /etc/hostname and /etc/resolv.conf, and the veth
// plugged in while the init stage waits. info is filled in for inspect.
// It returns the release and the first network's attachment.
func (e *Engine) joinNetwork(cfg *managed.Config, rec *managed.Record, s *specs.Spec, run *container.Options, info *managed.Network, early bool) (func(), *network.Attachment, error) {
	ports, err := e.portSpecs(cfg, rec)
	if err != nil {
		return nil, nil, err
	}
	n, err := loadNetwork(e.Root, cfg.NetworkMode)
	if err != nil {
		return nil, nil, err
	}
	o, err := attachOptions(cfg, rec, ports)
	if err != nil {
		return nil, nil, err
	}
	o.MultiHomed = len(cfg.Networks) > 0
	// The address and files are made in the background (Prestart), while
	// the container is created, and waited for before its init stage
	// gets its config, which mounts the files.
	a, err := n.Reserve(rec.ID, o)
	if err != nil {
		return nil, nil, err
	}
	if early {
		a.PlugEarly()
		run.NetNS = a.Netns
	} else {
		a.Prestart()
	}
	s.Mounts = append(s.Mounts, a.Mounts()...)
	run.Prepare = a.Connect
	info.Networks = map[string]*managed.Endpoint{}
	run.ConfigReady = sync.OnceValue(func() error {
		if err := a.Address(); err != nil {
			return err
		}
		for _, w := range a.Warnings {
			e.warn(w)
		}
		info.IPAddress, info.Gateway = a.Addr.String(), n.Subnet.Addr().Next().String()
		for _, p := range a.Ports {
			info.Ports = append(info.Ports, p.String())
		}
		info.Networks[n.Name] = endpointOf(n, a, cfg.Aliases)
		return nil
	})
	release := func() { _ = a.Release() }
	if len(cfg.Networks) > 0 {
		release, err := e.joinMore(cfg, rec, run, info, a, release)
		return release, a, err
	}
	return release, a, nil
}

// joinUserModeNetwork connects a rootless container's network namespace
// to the host through its user-mode stack (pasta or slirp4netns) while
// its init stage waits, publishes its ports there, and gives it a
// resolv.conf naming the stack's DNS forwarder; release ends the stack.
// The stack's process is recorded (info.UserMode) for garbage collection
// should the berth running it be killed.
func (e *Engine) joinUserModeNetwork(cfg *managed.Config, rec *managed.Record, s *specs.Spec, run *container.Options, info *managed.Network) (func(), error) {
	ports, err := fixedPorts(cfg.Ports)
	if err != nil {
		return nil, err
	}
	tool := string(cfg.UserModeNetwork)
	resolv := filepath.Join(e.ContainerDir(rec.ID), "resolv.conf")
	if err := usermode.WriteResolvConf(resolv, tool); err != nil {
		return nil, fmt.Errorf("write the container's resolv.conf: %w", err)
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: resolv,
		Options: []string{"rbind", "nosuid", "nodev", "noexec"}})
	var stack usermode.Stack
	run.Prepare = func(pid int) error {
		// Before the stack starts: every record that names a stack has
		// the marker collection looks for, and the hint that has
		// collection look.
		if err := e.Containers().Watch(rec.ID); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(e.ContainerDir(rec.ID), userModeMarker), nil, 0o600); err != nil {
			return err
		}
		var err error
		if stack, err = usermode.Start(tool, pid, e.Runroot, rec.ID, ports); err != nil {
			_ = os.Remove(filepath.Join(e.ContainerDir(rec.ID), userModeMarker))
			return err
		}
		r := stack.Record()
		info.UserMode = &r
		return nil
	}
	info.Mode, info.IPAddress, info.Gateway = "bridge ("+tool+")", usermode.Address, usermode.Gateway
	for _, p := range ports {
		info.Ports = append(info.Ports, p.String())
	}
	return func() {
		if stack != nil {
			stack.Stop()
			_ = os.Remove(filepath.Join(e.ContainerDir(rec.ID), userModeMarker))
		}
	}, nil
}

// networkOf is the network namespace of the running container ref (name,
// ID or unique ID prefix), for --network container:REF: a path that pins
// it until release.
func (e *Engine) networkOf(ref string) (string, func(), error) {
	return e.namespaceOf("--network", "net", ref)
}

// namespaceOf pins the namespace of kind (net, ipc, pid) of the running
// container ref, for flag container:ref.
func (e *Engine) namespaceOf(flag, kind, ref string) (string, func(), error) {
	rec, err := e.Containers().Get(ref)
	if err != nil {
		return "", nil, fmt.Errorf("%s container:%s: %w", flag, ref, err)
	}
	notRunning := errdefs.New(errdefs.ErrNotRunning, "%s container:%s: that container is not running", flag, ref)
	if err := e.Admits(managed.OpJoin, rec); err != nil {
		return "", nil, fmt.Errorf("%s container:%s: %w", flag, ref, err)
	}
	if rec.State.Pid == 0 {
		return "", nil, notRunning
	}
	c, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return "", nil, notRunning
	}
	// Pinned, not named by PID: the container may end meanwhile.
	path, release, err := c.PinNamespace(kind)
	if errors.Is(err, container.ErrNotRunning) {
		return "", nil, notRunning
	}
	return path, release, err
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// CreateStored is docker create: the container's record, in state
// Created, for berth start to run under a monitor. Nothing runs it yet,
// so its lifetime lock is given up at once. What its first start would
// refuse in its configuration is refused now, as docker create does.
func (e *Engine) CreateStored(cfg managed.Config, o CreateOptions) (managed.Record, error) {
	o.Detached = true
	if err := e.checkConfig(&cfg, o.Image); err != nil {
		return managed.Record{}, err
	}
	rec, owner, err := e.Create(cfg, o)
	if err != nil {
		return managed.Record{}, err
	}
	owner.Release()
	return rec, nil
}

// checkConfig builds the OCI config that cfg makes, without a snapshot,
// volumes, network or user namespace, to refuse what a start would
// (resources, user, command, network mode), and checks its published
// ports. ref is its image, "" with cfg.Rootfs.
func (e *Engine) checkConfig(cfg *managed.Config, ref string) error {
	if cfg.Rootfs == "" && ref == "" {
		return ErrNoImage
	}
	o := runOptions(cfg)
	if cfg.Rootfs == "" && ref != "" {
		store, err := e.Images()
		if err != nil {
			return err
		}
		ic, err := store.Config(ref)
		if err != nil {
			return err
		}
		lower, err := store.LowerDirs(ref)
		if err != nil {
			return err
		}
		// Users are looked up through the image's layers (as a run over
		// an overlay does); the root only has to exist.
		o.Rootfs, o.UserRoots = e.Root, lower
		o.Image = &spec.ImageConfig{Entrypoint: ic.Entrypoint, Cmd: ic.Cmd, Env: ic.Env, WorkingDir: ic.WorkingDir, User: ic.User}
	}
	if strings.HasPrefix(o.Network, "container:") {
		// Resolved when it starts: that container need not run now.
		o.NetworkFrom = "/proc/self/ns/net"
	}
	if _, err := spec.FromRunOptions(o); err != nil {
		return err
	}
	if err := checkNetOptions(*cfg); err != nil {
		return err
	}
	if cfg.UserModeNetwork != "" {
		if _, err := fixedPorts(cfg.Ports); err != nil {
			return err
		}
	}
	return checkPublishMode(cfg)
}

// background makes fn run once: start runs it in the background, wait
// runs it unless start did, and returns once it has returned.
func background(fn func()) (start, wait func()) {
	var once sync.Once
	run := func() { once.Do(fn) }
	return func() { go run() }, run
}
