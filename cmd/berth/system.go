package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/spf13/cobra"
)

// newSystemCommand is docker system: info, df and prune.
func newSystemCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Show berth's disk use and host, and remove what nothing uses"}
	cmd.AddCommand(newInfoCommand(g), newSystemDf(g), newSystemPrune(g), newEventsCommand(g))
	return cmd
}

func newSystemDf(g *globalOptions) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:     "df [-v]",
		Short:   "Show the disk space images, containers and volumes use, and what prune would free",
		Example: "  berth system df\n  berth system df -v",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			du, warnings := g.engine().DiskUsage()
			printWarnings(warnings)
			if verbose {
				return printDiskUsage(du)
			}
			w := tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
			fmt.Fprintln(w, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
			for _, s := range du.Summary() {
				reclaim := decimalSize(s.Reclaimable)
				if s.Size > 0 {
					reclaim += fmt.Sprintf(" (%d%%)", s.Reclaimable*100/s.Size)
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", s.Type, s.Total, s.Active, decimalSize(s.Size), reclaim)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show each image, container and volume")
	return cmd
}

// printDiskUsage is docker system df -v.
func printDiskUsage(du engine.DiskUsage) error {
	w := tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
	fmt.Fprint(w, "Images space usage:\n\n")
	fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, u := range du.Images {
		repo, tag := "<none>", "<none>"
		if len(u.Image.Names) > 0 {
			repo, tag = splitTag(u.Image.Names[0])
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", repo, tag, shortImageID(u.Image.ID), ago(u.Image.Created),
			decimalSize(u.Image.Size), decimalSize(u.SharedSize), decimalSize(u.UniqueSize()), u.Containers)
	}
	fmt.Fprint(w, "\nContainers space usage:\n\n")
	fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES")
	for _, c := range du.Containers {
		r := row(c.Record, false)
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.Image, r.Command, c.Volumes, decimalSize(c.Size), r.Created, r.Status, r.Names)
	}
	fmt.Fprint(w, "\nLocal Volumes space usage:\n\n")
	fmt.Fprintln(w, "VOLUME NAME\tLINKS\tSIZE")
	for _, v := range du.Volumes {
		fmt.Fprintf(w, "%s\t%d\t%s\n", v.Name, v.Links, decimalSize(v.Size))
	}
	fmt.Fprintf(w, "\nBuild cache usage: %s\n", decimalSize(du.BuildCache.Size))
	return w.Flush()
}

func newSystemPrune(g *globalOptions) *cobra.Command {
	var o engine.PruneOptions
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [-a] [--volumes] [-f]",
		Short: "Remove stopped containers, unused networks, dangling images (-a: every unused image) and with --volumes unused anonymous volumes",
		Example: `  berth system prune
  berth system prune -a --volumes -f   # everything unused, without asking`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirmSystemPrune(o) {
				return nil
			}
			r, warnings, err := g.engine().SystemPrune(o)
			printWarnings(warnings)
			printPruneReport(r)
			return err
		},
	}
	cmd.Flags().BoolVarP(&o.AllImages, "all", "a", false, "remove every image no container uses, not only dangling ones")
	cmd.Flags().BoolVar(&o.Volumes, "volumes", false, "also remove the anonymous volumes no container uses (named ones stay, as in Docker 23: berth volume prune -a removes them)")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

// confirmSystemPrune asks, as docker system prune does, on stderr; only
// y or yes goes on.
func confirmSystemPrune(o engine.PruneOptions) bool {
	lines := []string{"all stopped containers", "all networks not used by at least one container"}
	if o.Volumes {
		lines = append(lines, "all anonymous volumes not used by at least one container")
	}
	if o.AllImages {
		lines = append(lines, "all images without at least one container associated to them")
	} else {
		lines = append(lines, "all dangling images")
	}
	fmt.Fprintf(os.Stderr, "WARNING! This will remove:\n  - %s\n\nAre you sure you want to continue? [y/N] ", strings.Join(lines, "\n  - "))
	answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

// printPruneReport is docker system prune's output: a section for each
// kind of thing removed, then the space freed.
func printPruneReport(r engine.PruneReport) {
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Println(title)
		for _, l := range lines {
			fmt.Println(l)
		}
		fmt.Println()
	}
	section("Deleted Containers:", r.Containers)
	section("Deleted Networks:", r.Networks)
	section("Deleted Volumes:", r.Volumes)
	var images []string
	for _, n := range r.Images.Untagged {
		images = append(images, "untagged: "+n)
	}
	for _, id := range r.Images.Deleted {
		images = append(images, "deleted: "+id)
	}
	section("Deleted Images:", images)
	fmt.Printf("Total reclaimed space: %s\n", decimalSize(r.Reclaimed))
}

// decimalSize is docker's units.HumanSize: 4 significant digits, powers
// of 1000 ("16.43MB", "212B").
func decimalSize(n int64) string {
	f, units := float64(n), []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}
