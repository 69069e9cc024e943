package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func newStateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "state CONTAINER_ID",
		Short: "Print the container's state as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := container.Attach(g.root, args[0])
			if err != nil {
				return err
			}
			e := entryOf(c)
			// runc compat: runc's state leaves the owner empty; list fills it.
			e.Owner = ""
			return printJSON(e)
		},
	}
}

// listEntry is a container as runc's state and list print it (runc's
// containerState): containerd's shim and podman decode these fields.
type listEntry struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// entryOf reads a container's state without its lifecycle lock: the
// record is replaced whole (written beside and renamed), so a reader sees
// the old state or the new, and never waits on a command that holds the
// lock for long (a foreground run holds it for the container's life).
func entryOf(c *container.Container) listEntry {
	st, rec := c.State(), c.Record()
	return listEntry{
		OCIVersion: st.Version, ID: st.ID, Pid: st.Pid, Status: string(st.Status),
		Bundle: st.Bundle, Rootfs: rec.Rootfs, Created: rec.Created, Annotations: st.Annotations,
		Owner: ownerOf(c.Dir()),
	}
}

// ownerOf names the owner of a container's state directory, as runc's
// list does ("#UID" for a user without a name).
func ownerOf(dir string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return ""
	}
	if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
		return u.Username
	}
	return "#" + strconv.Itoa(int(st.Uid))
}

func newListCommand(g *globals) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// runc compat: no containers is JSON null, as runc prints it.
			var entries []listEntry
			for _, rec := range container.List(g.root) {
				c, err := container.Attach(g.root, rec.ID)
				if err != nil {
					continue
				}
				entries = append(entries, entryOf(c))
			}
			switch {
			case quiet:
				for _, e := range entries {
					fmt.Println(e.ID)
				}
				return nil
			case format == "json":
				return json.NewEncoder(os.Stdout).Encode(entries)
			case format == "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
				for _, e := range entries {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle, e.Created.Format(time.RFC3339Nano), e.Owner)
				}
				return w.Flush()
			}
			return fmt.Errorf("invalid --format %q: use table or json", format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the container IDs")
	return cmd
}

func newPsCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [flags] CONTAINER_ID [ps options]",
		Short: "List the processes running in a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Without the lifecycle lock: reading the cgroup changes nothing.
			c, err := container.Attach(g.root, args[0])
			if err != nil {
				return err
			}
			pids := c.Processes()
			if format == "json" {
				// runc compat: one compact line, null when there is none.
				return json.NewEncoder(os.Stdout).Encode(pids)
			}
			if format != "table" {
				return fmt.Errorf("invalid --format %q: use table or json", format)
			}
			return psTable(pids, args[1:])
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// psTable runs the host's ps and keeps the header and the container's lines.
func psTable(pids []int, psArgs []string) error {
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	pidCol := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return errors.New("ps output has no PID column")
	}
	in := map[string]bool{}
	for _, p := range pids {
		in[strconv.Itoa(p)] = true
	}
	fmt.Println(lines[0])
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > pidCol && in[f[pidCol]] {
			fmt.Println(l)
		}
	}
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func isNotExist(err error) bool { return errors.Is(err, container.ErrNotExist) }
