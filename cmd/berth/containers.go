package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/health"
	"github.com/berth-runtime/berth/internal/logs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/spf13/cobra"
)

// containers is the store of berth's containers, under --root.
func (g *globalOptions) containers() managed.Store { return g.engine().Containers() }

func (g *globalOptions) containerDir(id string) string { return g.engine().ContainerDir(id) }

// forEach runs fn on each named container, reporting failures one line
// each and exiting 1 if any failed, as docker does for several names.
func forEach(g *globalOptions, refs []string, fn func(managed.Record) error) error {
	var failed error
	for _, ref := range refs {
		rec, err := g.containers().Get(ref)
		if err == nil {
			err = fn(rec)
		}
		if err != nil {
			printError(err)
			failed = exitError{1}
		}
	}
	return failed
}

// psOptions are ps's flags.
type psOptions struct {
	all, quiet, size, noTrunc, latest bool
	last                              int
	format                            string
	filters                           []string
	// health is each running container's health, for its status.
	health func(managed.Record) *health.State
}

func newPsCommand(g *globalOptions) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:     "ps [-a] [-q] [-s] [-n N|-l] [--no-trunc] [--filter KEY=VALUE] [--format table|json|TEMPLATE]",
		Short:   "List containers",
		Example: "  berth ps\n  berth ps -a --filter status=exited\n  berth ps -s -n 3\n  berth ps --format 'table {{.Names}}\\t{{.Status}}'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, err := selectContainers(g, o)
			if err != nil {
				return err
			}
			o.health = g.engine().Health
			return printContainers(os.Stdout, recs, o, g.engine().ContainerSizes)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.all, "all", "a", false, "show every container (default: running ones)")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "print container IDs only")
	fl.BoolVarP(&o.size, "size", "s", false, "show each container's size: its writable layer (virtual: with its image)")
	fl.BoolVar(&o.noTrunc, "no-trunc", false, "print full IDs and commands")
	fl.IntVarP(&o.last, "last", "n", -1, "show the N last created containers, in any state")
	fl.BoolVarP(&o.latest, "latest", "l", false, "show the last created container, in any state")
	fl.StringVar(&o.format, "format", "", "Go template over .ID .Image .Command .CreatedAt .RunningFor .Status .State .Ports .Names .Labels .Mounts .Networks .Size; 'table TEMPLATE' adds a header; 'json' prints one object per line")
	stringArrayVarP(fl, &o.filters, "filter", "f", "keep containers matching name=, id=, status=, ancestor=, label=KEY[=VALUE], exited=CODE, before=CONTAINER, since=CONTAINER, volume=, network=")
	return cmd
}

// selectContainers are ps's: newest first, running ones (every one with
// -a, -n or -l), filtered, then the first N of -n (1 with -l), as docker.
func selectContainers(g *globalOptions, o psOptions) ([]managed.Record, error) {
	byHealth, filters, err := healthFilters(o.filters)
	if err != nil {
		return nil, err
	}
	if filters, err = resolvePsFilters(g, filters); err != nil {
		return nil, err
	}
	last := o.last
	if o.latest {
		last = 1
	}
	var recs []managed.Record
	for _, rec := range g.containers().List() {
		if last >= 0 && len(recs) >= last {
			break
		}
		rec = withPause(g, rec)
		if (o.all || last >= 0 || rec.State.Up()) && matches(rec, filters) && matchesHealth(g, rec, byHealth) {
			recs = append(recs, rec)
		}
	}
	return recs, nil
}

// withPause is engine.WithPause: a frozen container shows as paused.
func withPause(g *globalOptions, rec managed.Record) managed.Record { return g.engine().WithPause(rec) }

// matches applies docker ps's filters: name and id match substrings and
// prefixes, status and ancestor (image) exactly.
func matches(rec managed.Record, filters []string) bool {
	for _, f := range filters {
		key, val, _ := strings.Cut(f, "=")
		var ok bool
		switch key {
		case "name":
			ok = strings.Contains(rec.Name, val)
		case "id":
			ok = strings.HasPrefix(rec.ID, val)
		case "status":
			ok = string(rec.State.Status) == val
		case "label":
			ok = rec.Config.MatchesLabel(val)
		case "ancestor":
			ok = rec.Image == val || strings.HasPrefix(strings.TrimPrefix(rec.ImageID, "sha256:"), strings.TrimPrefix(val, "sha256:"))
		default:
			ok = matchesMore(rec, key, val)
		}
		if !ok {
			return false
		}
	}
	return true
}

// printContainers prints ps's lines; sizes gives a container's writable
// and virtual sizes.
func printContainers(w io.Writer, recs []managed.Record, o psOptions, sizes func(managed.Record) (int64, int64)) error {
	if o.quiet {
		for _, rec := range recs {
			if o.noTrunc {
				fmt.Fprintln(w, rec.ID)
			} else {
				fmt.Fprintln(w, managed.ShortID(rec.ID))
			}
		}
		return nil
	}
	table := render.PsTable
	if o.size {
		table = render.PsSizeTable
	}
	// Sizes walk each writable layer: only when shown.
	sized := (o.size || strings.Contains(o.format, ".Size")) && sizes != nil
	rows := make([]any, len(recs))
	for i, rec := range recs {
		r := row(rec, o.noTrunc)
		if sized {
			rw, virtual := sizes(rec)
			r.Size = fmt.Sprintf("%s (virtual %s)", humanSize(rw), humanSize(virtual))
		}
		rows[i] = withHealth(r, rec, o.health)
	}
	return render.Rows(w, o.format, table, render.PsHeaders, rows)
}

func row(rec managed.Record, noTrunc bool) render.PsRow {
	img := rec.Image
	if img == "" {
		img = "(rootfs)"
	}
	var cmd string
	var r render.PsRow
	if c := rec.Config; c != nil {
		cmd = strings.Join(c.Cmd, " ")
		if c.Entrypoint != nil && *c.Entrypoint != "" {
			cmd = strings.TrimSpace(*c.Entrypoint + " " + cmd)
		}
		r.Labels = joinLabels(c.Labels)
		var vols, mounts []string
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Source != "" {
				vols = append(vols, m.Source)
				mounts = append(mounts, m.Source)
			} else if m.Type == "bind" {
				mounts = append(mounts, m.Source)
			}
		}
		r.Mounts, r.LocalVolumes = strings.Join(mounts, ","), strconv.Itoa(len(vols))
		if !strings.HasPrefix(c.NetworkMode, "container:") {
			r.Networks = c.NetworkMode
		}
	}
	id := rec.ID
	if !noTrunc {
		cmd, id = ellipsis(cmd, 20), managed.ShortID(rec.ID)
	}
	ports := engine.PortsColumn(rec)
	created := ago(rec.Created)
	r.ID, r.Image, r.Command, r.CreatedAt = id, img, `"`+cmd+`"`, rec.Created.Format("2006-01-02 15:04:05 -0700 MST")
	r.RunningFor, r.Created, r.Status, r.State, r.Ports, r.Names = created, created, statusLine(rec.State), string(rec.State.Status), ports, rec.Name
	return r
}

// joinLabels is docker ps's .Labels: key=value pairs, sorted, by commas.
func joinLabels(labels map[string]string) string {
	var l []string
	for k, v := range labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

// statusLine is docker ps's STATUS: "Up 3 minutes", "Up 3 minutes
// (Paused)", "Exited (0) 2 seconds ago"; a container whose monitor died
// says so.
func statusLine(st managed.State) string {
	switch st.Status {
	case managed.Running:
		return "Up " + strings.TrimSuffix(ago(st.StartedAt), " ago")
	case managed.Paused:
		return "Up " + strings.TrimSuffix(ago(st.StartedAt), " ago") + " (Paused)"
	case managed.Exited:
		return fmt.Sprintf("Exited (%d) %s", st.ExitCode, ago(st.FinishedAt))
	case managed.Dead:
		return "Dead (its monitor was killed)"
	}
	return "Created"
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	var o logs.ReadOptions
	var since string
	var timestamps bool
	cmd := &cobra.Command{
		Use:     "logs [-f] [--tail N] [--since TIME] [-t] CONTAINER",
		Short:   "Show a container's output",
		Example: "  berth logs web\n  berth logs -f --tail 10 web\n  berth logs --since 5m -t web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			if since != "" {
				if o.Since, err = parseSince(since); err != nil {
					return err
				}
			}
			if err := engine.LogReadable(rec); err != nil {
				return err
			}
			path := g.engine().LogPath(rec.ID)
			if _, err := os.Stat(path); err != nil && !o.Follow {
				return nil // no output yet
			}
			ctx, cancel := interruptible()
			defer cancel()
			dir := g.containerDir(rec.ID)
			stop := func() bool { return !managed.Held(dir) }
			err = logs.Read(ctx, path, o, stop, func(e logs.Entry) error {
				w := os.Stdout
				if e.Stream == "stderr" {
					w = os.Stderr
				}
				_, err := w.Write(logs.FormatEntry(e, timestamps))
				return err
			})
			if ctx.Err() != nil {
				// ctrl-c (or SIGTERM) is how a follow ends: quietly,
				// status 0, as docker logs -f.
				return nil
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing new output until the container stops")
	cmd.Flags().IntVarP(&o.Tail, "tail", "n", -1, "show only the last N lines (-1: all)")
	cmd.Flags().StringVar(&since, "since", "", "show output since a time (RFC 3339) or a duration ago (10m, 1h)")
	cmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "prefix each line with its time")
	return cmd
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: give a duration (10m) or an RFC 3339 time", s)
}

func newStopCommand(g *globalOptions) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "stop [-t SECONDS] CONTAINER...",
		Short:   "Stop containers: SIGTERM (or the image's stop signal), then SIGKILL after the timeout",
		Example: "  berth stop web\n  berth stop -t 2 web db",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(g, args, func(rec managed.Record) error {
				if err := stopContainer(g, rec, stopTimeout(cmd, timeout)); err != nil {
					return err
				}
				fmt.Println(rec.Name)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10; -1 waits for ever)")
	return cmd
}

// stopTimeout is -t when given, else the container's --stop-timeout.
func stopTimeout(cmd *cobra.Command, seconds int) time.Duration {
	if !cmd.Flags().Changed("time") {
		return engine.ContainerStopTimeout
	}
	return time.Duration(seconds) * time.Second
}

// stopContainer is engine.Stop: the stop signal, then SIGKILL after
// timeout.
func stopContainer(g *globalOptions, rec managed.Record, timeout time.Duration) error {
	return g.engine().Stop(rec, timeout)
}

func newKillCommand(g *globalOptions) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:     "kill [-s SIGNAL] CONTAINER...",
		Short:   "Send a signal (default SIGKILL) to containers' main process",
		Example: "  berth kill web\n  berth kill -s HUP web",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := spec.ParseSignal(signal)
			if err != nil {
				return err
			}
			return forEach(g, args, func(rec managed.Record) error {
				if err := g.engine().Kill(rec, sig); err != nil {
					return err
				}
				fmt.Println(rec.Name)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal name or number")
	return cmd
}

func newRmCommand(g *globalOptions) *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use:     "rm [-f] [-v] CONTAINER...",
		Short:   "Remove containers (-f: stop running ones first; -v: their anonymous volumes too)",
		Example: "  berth rm web\n  berth rm -f $(berth ps -aq)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := forEach(g, args, func(rec managed.Record) error {
				if err := g.engine().Remove(rec, force); err != nil {
					return err
				}
				fmt.Println(rec.Name)
				return nil
			})
			if volumes {
				// Anonymous volumes no remaining container refers to.
				if verr := g.volumes().Collect(g.engine().VolumeKept()); verr != nil {
					printError(verr)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running container first")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "also remove the containers' anonymous volumes")
	return cmd
}

func newWaitCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "wait CONTAINER...",
		Short:   "Wait for containers to stop and print their exit codes",
		Example: "  berth wait web",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(g, args, func(rec managed.Record) error {
				done, err := g.engine().Wait(rec)
				if err != nil {
					return err
				}
				fmt.Println(done.State.ExitCode)
				return nil
			})
		},
	}
}

func newStartCommand(g *globalOptions) *cobra.Command {
	var attachTo bool
	cmd := &cobra.Command{
		Use:     "start [-a] CONTAINER...",
		Short:   "Start stopped containers again, in the background (-a: attached)",
		Example: "  berth start web\n  berth start -a job",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attachTo {
				if len(args) != 1 {
					return errors.New("start -a takes one container")
				}
				return startAttached(g, args[0])
			}
			return forEach(g, args, func(rec managed.Record) error {
				if err := startContainer(g, rec); err != nil {
					return err
				}
				fmt.Println(rec.Name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&attachTo, "attach", "a", false, "stay attached: its terminal, or its output, until it ends, and exit with its status")
	return cmd
}

// startAttached starts a container and follows it to its end: its
// terminal if it has one, else its log.
func startAttached(g *globalOptions, ref string) error {
	rec, err := g.containers().Get(ref)
	if err != nil {
		return err
	}
	// This run's output: what the log got after the last run ended (the
	// program may write before its start is recorded).
	since := rec.State.FinishedAt
	if err := startContainer(g, rec); err != nil {
		return err
	}
	if rec, err = g.containers().Get(rec.ID); err != nil {
		return err
	}
	// A container that already ended has its output in the log, terminal
	// or not.
	if err := attach(g, rec, []byte{0x10, 0x11}); err == nil || !errors.Is(err, engine.ErrNoTerminal) && !errors.Is(err, errdefs.ErrNotRunning) {
		return err
	}
	ctx, cancel := interruptible()
	defer cancel()
	dir := g.containerDir(rec.ID)
	err = logs.Read(ctx, g.engine().LogPath(rec.ID), logs.ReadOptions{Follow: true, Tail: -1, Since: since},
		func() bool { return !managed.Held(dir) }, func(e logs.Entry) error {
			w := os.Stdout
			if e.Stream == "stderr" {
				w = os.Stderr
			}
			_, err := w.Write(e.Line)
			return err
		})
	if err != nil {
		return err
	}
	if end, err := g.containers().Get(rec.ID); err == nil && end.State.ExitCode != 0 {
		return exitError{end.State.ExitCode}
	}
	return nil
}

// startContainer is engine.Start: a new monitor; a running container is
// left as it is, as docker start does.
func startContainer(g *globalOptions, rec managed.Record) error { return g.engine().Start(rec) }

func newRestartCommand(g *globalOptions) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "restart [-t SECONDS] CONTAINER...",
		Short:   "Stop and start containers",
		Example: "  berth restart web",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(g, args, func(rec managed.Record) error {
				err := g.engine().Restart(rec, stopTimeout(cmd, timeout))
				if err != nil {
					return err
				}
				fmt.Println(rec.Name)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10; -1 waits for ever)")
	return cmd
}

func newPauseCommand(g *globalOptions, pause bool) *cobra.Command {
	use, short := "pause", "Freeze every process of containers"
	if !pause {
		use, short = "unpause", "Thaw paused containers"
	}
	return &cobra.Command{
		Use:     use + " CONTAINER...",
		Short:   short,
		Example: "  berth " + use + " web",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(g, args, func(rec managed.Record) error {
				freeze := g.engine().Unpause
				if pause {
					freeze = g.engine().Pause
				}
				if err := freeze(rec); err != nil {
					return err
				}
				fmt.Println(rec.Name)
				return nil
			})
		},
	}
}

func newRenameCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "rename CONTAINER NEW_NAME",
		Short:   "Rename a container",
		Example: "  berth rename web frontend",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			return g.engine().Rename(rec, args[1])
		},
	}
}

func newContainerPrune(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "prune [-f]",
		Short:   "Remove every stopped container",
		Example: "  berth container prune\n  berth container prune -f   # without asking",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !confirmed(force, pruneContainersWarning) {
				return nil
			}
			removed, warnings := g.engine().Prune()
			for _, id := range removed {
				fmt.Println(id)
			}
			for _, w := range warnings {
				printWarning(w)
			}
			return nil
		},
	}
	addForce(cmd, &force)
	return cmd
}

// newContainerCommand is docker's container group: every container
// command also as berth container COMMAND, ls (list, ps) for ps.
func newContainerCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	ls := newPsCommand(g)
	ls.Use, ls.Aliases = strings.Replace(ls.Use, "ps", "ls", 1), []string{"list", "ps"}
	rm := newRmCommand(g)
	rm.Aliases = []string{"remove"}
	cmd.AddCommand(newContainerPrune(g), ls, rm, newContainerInspect(g), newCreateCommand(g), newPortCommand(g),
		newCheckpointCommand(g), newRestoreCommand(g), newRunCommand(g), newStartCommand(g), newStopCommand(g),
		newRestartCommand(g), newKillCommand(g), newLogsCommand(g), newExecCommand(g), newWaitCommand(g),
		newPauseCommand(g, true), newPauseCommand(g, false), newRenameCommand(g), newStatsCommand(g),
		newTopCommand(g), newAttachCommand(g), newCpCommand(g), newDiffCommand(g), newExportCommand(g), newCommitCommand(g))
	cmd.AddCommand(newUpdateCommand(g))
	return cmd
}

// completeContainers completes container names for shell completion.
func completeContainers(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, rec := range g.containers().List() {
			if strings.HasPrefix(rec.Name, toComplete) {
				names = append(names, rec.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
