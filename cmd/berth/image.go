package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/progress"
	"github.com/berth-runtime/berth/internal/registry/client"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/berth-runtime/berth/internal/terminal"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// imageStore opens the image store under --root.
func (g *globalOptions) imageStore() (*image.Store, error) {
	return image.Open(g.imagesDir())
}

// imagesDir is the image store's directory, for berth-registry.
func (g *globalOptions) imagesDir() string { return filepath.Join(g.root, "images") }

// imageInUse tells the image store which images containers, running or
// not, are made from.
func (g *globalOptions) imageInUse(id string) bool { return g.containers().Uses(id) }

// interruptible is a context cancelled by SIGINT or SIGTERM, so that a
// long operation (an import, a save) stops cleanly. (A pull or push runs
// in berth-registry, which internal/registry/client passes them to.)
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
}

func newImageCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
	}
	ls, rm := newImagesCommand(g, "ls"), newRmiCommand(g, "rm")
	ls.Aliases, rm.Aliases = []string{"list"}, []string{"remove"}
	cmd.AddCommand(newPullCommand(g), ls, rm,
		newImageImport(g), newImageExport(g), newImagePrune(g), newImageInspect(g),
		newTagCommand(g, "tag"), newPushCommand(g, "push"), newSaveCommand(g, "save"),
		newLoadCommand(g, "load"), newHistoryCommand(g, "history"))
	return cmd
}

func newPullCommand(g *globalOptions) *cobra.Command {
	var o client.PullOptions
	var quiet bool
	tlsVerify := true
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Example: `  berth pull alpine                          # docker.io/library/alpine:latest
  berth pull ghcr.io/OWNER/IMAGE:TAG
  berth pull --tls-verify=false localhost:5000/app   # a plain-http registry`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Insecure = !tlsVerify
			if !quiet {
				o.Progress = progress.NewRenderer(os.Stderr)
			}
			img, err := client.Pull(g.imagesDir(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Println(pulledName(img, args[0]))
			return nil
		},
	}
	cmd.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require https with a trusted certificate (false: allow plain http)")
	cmd.Flags().StringVar(&o.Platform, "platform", "", "pick this os/arch[/variant] from a multi-platform image (default: the host's)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image name, no progress")
	return cmd
}

// pulledName is what pull prints: the canonical name asked for, as
// docker pull's last line.
func pulledName(img *client.Pulled, ref string) string {
	if r, err := image.ParseName(ref); err == nil {
		for _, n := range append(img.Names, img.Digests...) {
			if image.FamiliarName(n) == image.FamiliarName(r.Name()) || strings.HasSuffix(r.Name(), strings.TrimPrefix(n, "docker.io/")) {
				return n
			}
		}
	}
	if len(img.Names) > 0 {
		return img.Names[0]
	}
	return img.ID
}

// imageRows are images's lines: one per name, "<none>" for an untagged
// image.
func imageRows(imgs []image.Image) []any {
	var rows []any
	for _, img := range imgs {
		names := img.Names
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag := splitTag(image.FamiliarName(n))
			rows = append(rows, render.ImageRow{Repository: repo, Tag: tag, ID: shortImageID(img.ID), CreatedSince: ago(img.Created),
				CreatedAt: img.Created.Format("2006-01-02 15:04:05 -0700 MST"), Size: humanSize(img.Size)})
		}
	}
	return rows
}

func newImagesCommand(g *globalOptions, use string) *cobra.Command {
	var quiet, asJSON bool
	var format string
	cmd := &cobra.Command{
		Use:     use,
		Short:   "List images",
		Example: "  berth images\n  berth images -q\n  berth images --format 'table {{.Repository}}\\t{{.Size}}'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			imgs, err := store.List()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(imgs)
			}
			if quiet {
				for _, img := range imgs {
					fmt.Println(shortImageID(img.ID))
				}
				return nil
			}
			return render.Rows(os.Stdout, format, render.ImagesTable, render.ImagesHeaders, imageRows(imgs))
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print image IDs only")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the images as JSON")
	cmd.Flags().StringVar(&format, "format", "", "Go template over .Repository .Tag .ID .CreatedSince .CreatedAt .Size; 'table TEMPLATE' adds a header; 'json' prints one object per line")
	return cmd
}

func newRmiCommand(g *globalOptions, use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               use + " [-f] IMAGE...",
		Short:             "Remove images",
		Example:           "  berth rmi alpine\n  berth rmi -f 3f57d9401f8d",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeImageNames(g, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			var failed error
			for _, ref := range args {
				removed, err := store.Remove(ref, force, g.imageInUse)
				if err != nil {
					printError(err)
					failed = exitError{1}
					continue
				}
				printRemoved(removed)
			}
			// The images' chowned copies (user namespaces without
			// idmapped layers) go with them.
			printWarnings(g.engine().CollectChowned())
			return failed
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove every name of the image, even if containers use it")
	return cmd
}

func printRemoved(r image.Removed) {
	for _, n := range r.Untagged {
		fmt.Printf("Untagged: %s\n", image.FamiliarName(n))
	}
	for _, id := range r.Deleted {
		fmt.Printf("Deleted: %s\n", id)
	}
}

func newImageImport(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FILE|DIR [NAME[:TAG]]",
		Short: "Import images from a root filesystem tarball, an OCI image layout or a docker save archive",
		Example: `  berth image import rootfs.tar.gz busybox      # a root filesystem: one layer, no command
  berth image import saved.tar                   # docker save output, names kept
  berth image import ./oci-layout myapp:1.0`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			o := image.ImportOptions{Progress: progress.NewRenderer(os.Stderr)}
			if len(args) == 2 {
				o.Name = args[1]
			}
			ctx, cancel := interruptible()
			defer cancel()
			imgs, err := store.Import(ctx, args[0], o)
			if err != nil {
				return err
			}
			for _, img := range imgs {
				if len(img.Names) > 0 {
					fmt.Println(image.FamiliarName(img.Names[0]))
				} else {
					fmt.Println(img.ID)
				}
			}
			return nil
		},
	}
	return cmd
}

func newImageExport(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "export [-o FILE] IMAGE...",
		Short:   "Write images to a tar archive (docker save format, also an OCI layout)",
		Example: "  berth image export -o alpine.tar alpine\n  berth image export alpine | gzip > alpine.tar.gz",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			if output == "" {
				if terminal.IsTerminal(os.Stdout) {
					return fmt.Errorf("refusing to write an archive to a terminal: add -o FILE or redirect the output")
				}
				return store.Export(os.Stdout, args)
			}
			return writeFileAtomic(output, func(w io.Writer) error { return store.Export(w, args) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}

// writeFileAtomic writes path through a temporary file renamed into
// place, so that a failed export leaves no half-written archive.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func newImagePrune(g *globalOptions) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:     "prune [-a] [-f]",
		Short:   "Remove untagged images (with -a, every image no container uses) and unused layers",
		Example: "  berth image prune\n  berth image prune -a -f   # without asking",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			warning := pruneImagesWarning
			if all {
				warning = pruneAllImagesWarning
			}
			if !confirmed(force, warning) {
				return nil
			}
			store, err := g.imageStore()
			if err != nil {
				return err
			}
			removed, err := store.Prune(all, g.imageInUse)
			if err != nil {
				return err
			}
			printRemoved(removed)
			printWarnings(g.engine().CollectChowned())
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also remove tagged images no container uses")
	addForce(cmd, &force)
	return cmd
}

// newImageInfo is one image in `berth image inspect`, in docker's shape.
func newImageInfo(img *image.Image, cfg *image.Config) engine.ImageInspect {
	return engine.InspectImage(img, cfg)
}

func newImageInspect(g *globalOptions) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:               "inspect [-f TEMPLATE] IMAGE...",
		Short:             "Show images' details as JSON, or through a template: names, layers, and the configuration containers run with",
		Example:           "  berth image inspect alpine\n  berth image inspect -f '{{.Os}}/{{.Architecture}}' alpine",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeImageNames(g, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectAll(f.format, args, func(name string) (any, error) { return inspectImage(g, name) })
		},
	}
	addInspectFormat(cmd, &f)
	return cmd
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// shortImageID is the 12 hex digits docker images shows.
func shortImageID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// splitTag splits repo:tag (or repo@digest) for the table.
func splitTag(n string) (string, string) {
	if i := strings.LastIndex(n, "@"); i >= 0 {
		return n[:i], "<none>"
	}
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		return n[:i], n[i+1:]
	}
	return n, "<none>"
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "less than a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
	return fmt.Sprintf("%d months ago", int(d.Hours()/24/30))
}

func humanSize(n int64) string {
	const unit = 1000 // as docker images
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, suffix := float64(n), "kMGTPE"
	i := -1
	for f >= unit && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.3g%cB", f, suffix[i])
}
