package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/berth-runtime/berth/internal/health"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/spf13/cobra"
)

// newHealthcheckCommand is podman's healthcheck group: run, one probe
// now.
func newHealthcheckCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "healthcheck COMMAND",
		Short:   "Run a container's health check",
		Example: "  berth healthcheck run web",
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "run CONTAINER",
		Short:   "Run the container's health check now: exit 0 if it passed, 1 (and the health status) if not",
		Example: "  berth healthcheck run web",
		Args:    cobra.ExactArgs(1),
		// The container's name.
		ValidArgsFunction: completeContainers(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			r, st, err := g.engine().HealthcheckRun(rec)
			if err != nil {
				return err
			}
			if r.ExitCode != 0 {
				// podman prints the status when the check failed.
				fmt.Fprintln(os.Stdout, st.Status)
				return exitError{1}
			}
			return nil
		},
	})
	return cmd
}

// healthFilters takes docker ps's health= filters out of filters: the
// statuses asked for, and the other filters.
func healthFilters(filters []string) (map[string]bool, []string, error) {
	var want map[string]bool
	var rest []string
	for _, f := range filters {
		v, ok := strings.CutPrefix(f, "health=")
		if !ok {
			rest = append(rest, f)
			continue
		}
		switch v {
		case health.Starting, health.Healthy, health.Unhealthy, health.None:
		default:
			return nil, nil, fmt.Errorf("invalid filter 'health=%s': use starting, healthy, unhealthy or none", v)
		}
		if want == nil {
			want = map[string]bool{}
		}
		want[v] = true
	}
	return want, rest, nil
}

// matchesHealth is docker ps --filter health=: the container's health
// status, none without a health check (or before its first start).
func matchesHealth(g *globalOptions, rec managed.Record, want map[string]bool) bool {
	if want == nil {
		return true
	}
	status := health.None
	if st := g.engine().Health(rec); st != nil {
		status = st.Status
	}
	return want[status]
}

// withHealth adds a running container's health to its ps status: "Up 5
// seconds (healthy)", "(unhealthy)", "(health: starting)".
func withHealth(r render.PsRow, rec managed.Record, healthOf func(managed.Record) *health.State) render.PsRow {
	if healthOf == nil || rec.State.Status != managed.Running {
		return r
	}
	if st := healthOf(rec); st != nil {
		r.Status += " (" + st.Text() + ")"
	}
	return r
}
