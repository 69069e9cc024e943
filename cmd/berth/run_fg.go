package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/terminal"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// fgFlags are docker run's options of the foreground run, its attach
// and its log: -a, --sig-proxy, --detach-keys, --log-driver, --log-opt
// and -q.
type fgFlags struct {
	attach     []string
	sigProxy   bool
	detachKeys string
	quiet      bool
	logDriver  string
	logOpts    []string
	// resolved by apply
	keys                    []byte
	stdin, stdout, stderr   bool
	attachGiven, proxyGiven bool
}

func addFgFlags(fl *pflag.FlagSet, f *fgFlags) {
	stringArrayVarP(fl, &f.attach, "attach", "a", "attach to STDIN, STDOUT or STDERR (default: stdout and stderr, and stdin with -i)")
	fl.BoolVar(&f.sigProxy, "sig-proxy", true, "pass the signals berth receives on to the container (without -t)")
	fl.StringVar(&f.detachKeys, "detach-keys", "ctrl-p,ctrl-q", "the key sequence that detaches from a container's terminal (-it)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "suppress the pull output")
	fl.StringVar(&f.logDriver, "log-driver", "json-file", "where the container's output is kept: json-file, journald or none")
	stringArrayVarP(fl, &f.logOpts, "log-opt", "", "log driver option: max-size=SIZE (10m), max-file=N (json-file's rotation)")
}

// apply checks the options and puts the log's into cfg.
func (f *fgFlags) apply(cfg *managed.Config, fl *pflag.FlagSet) error {
	f.attachGiven, f.proxyGiven = fl.Changed("attach"), fl.Changed("sig-proxy")
	if err := f.parseAttach(cfg.OpenStdin); err != nil {
		return err
	}
	// berth create takes -a, as docker create, for nothing: berth
	// start -a attaches to every stream.
	if f.attachGiven && fl.Changed("detach") {
		return errors.New("conflicting options: cannot specify both --attach and --detach")
	}
	keys, err := parseDetachKeys(f.detachKeys)
	if err != nil {
		return err
	}
	f.keys = keys
	opts := map[string]string{}
	for _, o := range f.logOpts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid --log-opt %q: give KEY=VALUE, e.g. max-size=10m", o)
		}
		opts[k] = v
	}
	cfg.LogConfig = managed.LogConfig{Type: f.logDriver, Config: opts}
	if f.logDriver == engine.LogJSONFile {
		cfg.LogConfig.Type = "" // the default, as records before --log-driver
	}
	if len(opts) == 0 {
		cfg.LogConfig.Config = nil
	}
	return engine.CheckLogConfig(cfg.LogConfig)
}

// parseAttach reads -a as Docker does (case-insensitive stream names);
// without -a, stdout and stderr, and stdin with -i.
func (f *fgFlags) parseAttach(openStdin bool) error {
	if len(f.attach) == 0 {
		f.stdin, f.stdout, f.stderr = openStdin, true, true
		return nil
	}
	for _, s := range f.attach {
		switch strings.ToLower(s) {
		case "stdin":
			f.stdin = openStdin
		case "stdout":
			f.stdout = true
		case "stderr":
			f.stderr = true
		default:
			return fmt.Errorf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", s)
		}
	}
	return nil
}

// monitored reports whether a foreground run must outlive this berth,
// and so runs under a monitor with berth as its client: a terminal
// (ctrl-p ctrl-q detaches from it), a restart policy (the container is
// restarted after berth returns its first status), --sig-proxy=false
// (berth's own end leaves the container running). The plain run stays in
// this process, at no cost.
func (f *fgFlags) monitored(cfg *managed.Config, restart string) bool {
	return cfg.Tty || restart != "no" || !f.sigProxy
}

// checkMonitored refuses what a monitored foreground run cannot do: a
// bare stdin (-i without -t) reaches only a container of this process.
func (f *fgFlags) checkMonitored(cfg *managed.Config, restart string) error {
	if !f.monitored(cfg, restart) || cfg.Tty || !cfg.OpenStdin {
		return nil
	}
	return errors.New("-i without -t runs the container inside berth, and --restart or --sig-proxy=false need it to outlive berth: add -t, or drop -i")
}

// stdio is the in-process run's streams: the user's files for the
// attached ones, nil (the log only) for the others.
func (f *fgFlags) stdio() engine.Stdio {
	io := engine.Stdio{Relay: true}
	if f.stdin {
		io.In = os.Stdin
	}
	if f.stdout {
		io.Out = os.Stdout
	}
	if f.stderr {
		io.Err = os.Stderr
	}
	return io
}

// runMonitored is a foreground run under a monitor: berth is its client
// until its first run ends (exiting with its status) or, with a
// terminal, the detach keys.
func runMonitored(g *globalOptions, f *runFlags, rec managed.Record, owner *managed.Owner) error {
	e := g.engine()
	var size terminal.Size
	if f.opts.TTY {
		size = terminal.HostSize(os.Stdin, os.Stdout)
	}
	fg, err := e.RunForeground(rec, owner, size)
	if err != nil {
		return err
	}
	defer fg.Close()
	if fg.Terminal != nil {
		var out io.Writer
		if f.fg.stdout || f.fg.stderr {
			out = os.Stdout
		}
		if relayTerminal(fg.Terminal, f.fg.stdin, out, f.fg.keys) {
			return nil // detached: the container goes on
		}
	} else {
		if f.fg.sigProxy {
			stop := proxySignals(e, rec.ID)
			defer stop()
		}
		var stdout, stderr io.Writer
		if f.fg.stdout {
			stdout = os.Stdout
		}
		if f.fg.stderr {
			stderr = os.Stderr
		}
		if err := fg.CopyOutput(stdout, stderr); err != nil {
			return err
		}
	}
	code, err := fg.Wait()
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// proxySignals passes the signals docker run passes on to the container,
// until stop.
func proxySignals(e *engine.Engine, id string) (stop func()) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = e.ProxySignal(id, s.(unix.Signal))
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
