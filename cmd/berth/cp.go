package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/terminal"
	"github.com/spf13/cobra"
)

// failed1 makes err exit 1, as docker cp, diff and export do.
func failed1(err error) error {
	if err == nil {
		return nil
	}
	return errdefs.Exit{Code: 1, Err: err}
}

func newCpCommand(g *globalOptions) *cobra.Command {
	var o engine.CopyOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files between a container and the host",
		Long: "Copy files between a container and the host, running or stopped. " +
			"SRC_PATH/. copies a directory's contents; - reads or writes a tar stream. " +
			"Paths in the container resolve inside its root: its symlinks never lead to the host's files.",
		Example:               "  berth cp web:/etc/nginx/nginx.conf .\n  berth cp ./site/. web:/usr/share/nginx/html\n  tar -c dir | berth cp - web:/tmp",
		Args:                  cobra.ExactArgs(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return failed1(runCp(g, args[0], args[1], o))
		},
	}
	cmd.Flags().BoolVarP(&o.Archive, "archive", "a", false, "archive mode: keep the owners (uid/gid) of what is copied")
	cmd.Flags().BoolVarP(&o.Follow, "follow-link", "L", false, "always follow a symlink as SRC_PATH")
	return cmd
}

// splitContainerPath splits CONTAINER:PATH; a path with "/" or "." before
// any ":" is a local path, as docker reads it.
func splitContainerPath(arg string) (ref, p string, ok bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	ref, p, ok = strings.Cut(arg, ":")
	if !ok {
		return "", arg, false
	}
	return ref, p, true
}

func runCp(g *globalOptions, src, dst string, o engine.CopyOptions) error {
	srcRef, srcPath, fromContainer := splitContainerPath(src)
	dstRef, dstPath, toContainer := splitContainerPath(dst)
	switch {
	case fromContainer && toContainer:
		return errdefs.New(errdefs.ErrInvalidArgument, "copying between containers is not supported")
	case !fromContainer && !toContainer:
		return errdefs.New(errdefs.ErrInvalidArgument, "must specify at least one container source")
	case fromContainer && srcPath == "" || toContainer && dstPath == "":
		return errdefs.New(errdefs.ErrInvalidArgument, "the container path must not be empty")
	}
	e := g.engine()
	if fromContainer {
		rec, err := e.Containers().Get(srcRef)
		if err != nil {
			return err
		}
		if dstPath == "-" && terminal.IsTerminal(os.Stdout) {
			return errdefs.New(errdefs.ErrInvalidArgument, "cowardly refusing to write a tar stream to a terminal: redirect the output")
		}
		return e.CopyFromContainer(e.WithPause(rec), srcPath, dstPath, o, os.Stdout)
	}
	rec, err := e.Containers().Get(dstRef)
	if err != nil {
		return err
	}
	return e.CopyToContainer(e.WithPause(rec), srcPath, dstPath, o, os.Stdin)
}

func newDiffCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "diff CONTAINER",
		Short:   "List what a container changed in its image's files (A added, C changed, D deleted)",
		Example: "  berth diff web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e := g.engine()
			rec, err := e.Containers().Get(args[0])
			if err != nil {
				return failed1(err)
			}
			changes, err := e.Diff(e.WithPause(rec))
			if err != nil {
				return failed1(err)
			}
			for _, c := range changes {
				fmt.Println(c)
			}
			return nil
		},
	}
}

func newExportCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "export [-o FILE] CONTAINER",
		Short:   "Write a container's file system as a tar archive",
		Example: "  berth export -o web.tar web\n  berth export web | tar -t",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e := g.engine()
			rec, err := e.Containers().Get(args[0])
			if err != nil {
				return failed1(err)
			}
			rec = e.WithPause(rec)
			if output == "" {
				if terminal.IsTerminal(os.Stdout) {
					return failed1(errdefs.New(errdefs.ErrInvalidArgument, "cowardly refusing to save to a terminal. Use the -o flag or redirect"))
				}
				return failed1(e.Export(rec, os.Stdout))
			}
			return failed1(writeFileAtomic(output, func(w io.Writer) error { return e.Export(rec, w) }))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}
