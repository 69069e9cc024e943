package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/events"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/spf13/cobra"
)

func newEventsCommand(g *globalOptions) *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [--since TIME] [--until TIME] [--filter KEY=VALUE] [--format TEMPLATE]",
		Short: "Show what berth commands did to containers, images, volumes and networks, and follow it",
		Long: "Show events from berth's journal (each berth command appends what it did: berth has no daemon) and follow new ones until ctrl-c,\n" +
			"or until --until. Without --since, only new events are shown.",
		Example: "  berth events\n  berth events --since 10m --until 0s --filter type=container --filter event=die\n  berth events --format '{{.Action}} {{.Actor.Attributes.name}}'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := events.ReadOptions{Follow: true}
			var err error
			if o.Since, err = parseEventTime("--since", since); err != nil {
				return err
			}
			if o.Until, err = parseEventTime("--until", until); err != nil {
				return err
			}
			keep, err := eventFilter(filters)
			if err != nil {
				return err
			}
			print, err := eventPrinter(os.Stdout, format)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			err = events.At(g.root).Read(ctx, o, keep, print)
			if ctx.Err() != nil {
				return nil // ctrl-c ends it quietly, as docker events
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "show events since a time: RFC 3339, a Unix timestamp, or a duration ago (10m)")
	fl.StringVar(&until, "until", "", "stop at a time (then end): RFC 3339, a Unix timestamp, or a duration ago (0s: now)")
	stringArrayVarP(fl, &filters, "filter", "f", "keep events matching container=, image=, event=, type=, label=KEY[=VALUE], volume=, network= (one key several times: any of them)")
	fl.StringVar(&format, "format", "", "Go template over docker's event: .Type .Action .Actor.ID .Actor.Attributes .time .timeNano; 'json' prints each as JSON")
	return cmd
}

// parseEventTime is docker's --since/--until: RFC 3339 (or a date), a
// Unix timestamp with optional fraction, or a duration before now.
func parseEventTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if secs, frac, ok := strings.Cut(s, "."); ok || secs == s {
		if n, err := strconv.ParseInt(secs, 10, 64); err == nil {
			var ns int64
			if ok {
				frac = (frac + "000000000")[:9]
				if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
					return time.Time{}, badEventTime(flag, s)
				}
			}
			return time.Unix(n, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badEventTime(flag, s)
}

func badEventTime(flag, s string) error {
	return errdefs.New(errdefs.ErrInvalidArgument, "invalid %s %q: give an RFC 3339 time, a Unix timestamp or a duration (10m)", flag, s)
}

// eventFilter is docker events' --filter: values of one key are
// alternatives, different keys must all match.
func eventFilter(filters []string) (func(events.Event) bool, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		switch k {
		case "container", "image", "event", "type", "label", "volume", "network":
		default:
			ok = false
		}
		if !ok {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid filter %q: give container=, image=, event=, type=, label=, volume= or network=", f)
		}
		byKey[k] = append(byKey[k], v)
	}
	return func(e events.Event) bool {
		for k, vals := range byKey {
			if !anyMatch(e, k, vals) {
				return false
			}
		}
		return true
	}, nil
}

func anyMatch(e events.Event, key string, vals []string) bool {
	for _, v := range vals {
		if eventMatches(e, key, v) {
			return true
		}
	}
	return false
}

// eventMatches: IDs match by prefix, names exactly; event= is the action
// before any ": detail" (exec_start, health_status).
func eventMatches(e events.Event, key, v string) bool {
	a := e.Actor.Attributes
	byActor := func(typ string) bool {
		return e.Type == typ && (strings.HasPrefix(e.Actor.ID, v) || a["name"] == v)
	}
	switch key {
	case "type":
		return e.Type == v
	case "event":
		action, _, _ := strings.Cut(e.Action, ":")
		return action == v || e.Action == v
	case "container":
		return byActor(events.Container)
	case "volume":
		return byActor(events.Volume)
	case "network":
		return byActor(events.Network)
	case "image":
		return (e.Type == events.Container && a["image"] == v) || byActor(events.Image)
	case "label":
		k, val, hasVal := strings.Cut(v, "=")
		got, ok := a[k]
		return ok && (!hasVal || got == val)
	}
	return false
}

// eventPrinter prints an event as docker events does: a line of time,
// type, action, actor and its attributes; or through a template.
func eventPrinter(w io.Writer, format string) (func(events.Event) error, error) {
	if format == "json" {
		format = "{{json .}}"
	}
	if format == "" {
		return func(e events.Event) error {
			_, err := fmt.Fprintln(w, eventLine(e))
			return err
		}, nil
	}
	// The helper, if the template needs one, lives as long as berth
	// events: it ends with berth.
	tmpl, err := render.Parse(format, render.ModeInspect)
	if err != nil {
		return nil, err
	}
	return func(e events.Event) error {
		out, err := tmpl.Execute(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, out)
		return err
	}, nil
}

// eventLine is docker events' default line.
func eventLine(e events.Event) string {
	var attrs []string
	for k, v := range e.Actor.Attributes {
		attrs = append(attrs, k+"="+v)
	}
	sort.Strings(attrs)
	line := e.When().Format("2006-01-02T15:04:05.000000000Z07:00") + " " + e.Type + " " + e.Action + " " + e.Actor.ID
	if len(attrs) > 0 {
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	return line
}
