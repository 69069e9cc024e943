package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/archive"

	"github.com/berth-runtime/berth/internal/build"
	"github.com/berth-runtime/berth/internal/buildreq"
	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/progress"
)

// cli reports as berth does: the user typed berth build.
var cli = errdefs.CLI{Prog: "berth", Codes: errdefs.Berth, Stderr: os.Stderr}

// runBuild builds what the request on standard input asks: progress on
// standard error, the image ID on standard output with -q.
func runBuild() int {
	var req buildreq.Request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return cli.Report(fmt.Errorf("read the build request: %w", err))
	}
	// Interrupted, the build stops at its next step and cleans up; the
	// step's container is removed by its deferred Remove.
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
	defer stop()
	if req.ContextTar != "" {
		dir, err := unpackContext(&req)
		if dir != "" {
			defer os.RemoveAll(dir)
		}
		if err != nil {
			return cli.Report(err)
		}
	}
	if req.GitContext != "" {
		if !req.Quiet {
			fmt.Fprintf(os.Stderr, "#0 load git source %s\n", req.GitContext)
		}
		dir, dockerfile, release, err := build.GitContext(ctx, req.Root, req.GitContext, req.DockerfileName)
		defer release()
		if err != nil {
			return cli.Report(err)
		}
		req.Context, req.Dockerfile = dir, dockerfile
	}
	lock, release, err := engine.HoldBuild(req.Root)
	if err != nil {
		return cli.Report(err)
	}
	defer release()
	e := engine.New(engine.Options{Root: req.Root, Runroot: req.Runroot, StorageDriver: req.StorageDriver, Warn: cli.Warn, BuildLock: lock})
	if req.Export != nil && len(req.Tags) > 0 {
		// As BuildKit: the files are the result, no image is stored.
		cli.Warn(fmt.Sprintf("-t is ignored with --output type=%s: no image is stored", req.Export.Type))
		req.Tags = nil
	}
	progress, done := progressWriter(req)
	network := req.Network
	if network == "" || network == "default" {
		network = "bridge"
	}
	res, err := build.Build(ctx, e, build.Options{Context: req.Context, Dockerfile: req.Dockerfile, DockerfileName: req.DockerfileName,
		Tags: req.Tags, BuildArgs: req.BuildArgs, Target: req.Target, NoCache: req.NoCache, Network: network, Progress: progress, Pull: req.Pull, Labels: req.Labels, Secrets: req.Secrets, EnvSecrets: req.EnvSecrets, Squash: req.Squash, SSH: req.SSH, Unlisted: req.OutputFile != "" || req.Export != nil})
	done()
	if err != nil {
		return cli.Report(err)
	}
	if req.OutputFile != "" {
		if err := writeOutput(e, req, res.ID); err != nil {
			return cli.Report(err)
		}
	}
	if req.Export != nil {
		if err := build.ExportFiles(e, res.ID, req.Export.Type, req.Export.Dest, os.Stdout); err != nil {
			return cli.Report(err)
		}
	}
	if req.IIDFile != "" {
		if err := os.WriteFile(req.IIDFile, []byte(res.ID), 0o644); err != nil {
			return cli.Report(fmt.Errorf("--iidfile: %w", err))
		}
	}
	if req.Quiet {
		fmt.Println(res.ID)
		return 0
	}
	fmt.Fprintf(os.Stderr, "writing image %s done\n", res.ID)
	for _, t := range req.Tags {
		fmt.Fprintf(os.Stderr, "naming to %s done\n", t)
	}
	return 0
}

// progressWriter is where the build's progress goes: nothing with -q;
// on a terminal (--progress tty, or auto with standard error one) the
// running steps redrawn in place; else BuildKit's plain lines. done ends
// the redraw.
func progressWriter(req buildreq.Request) (io.Writer, func()) {
	switch {
	case req.Quiet:
		return nil, func() {}
	case req.Progress == "tty" || (req.Progress != "plain" && progress.IsTerminal(os.Stderr)):
		s := progress.NewSteps(os.Stderr, 100*time.Millisecond)
		return s, func() { _ = s.Close() }
	}
	return os.Stderr, func() {}
}

// writeOutput writes the image built to --output's file, complete or not
// at all (a temporary file renamed): an archive docker load, podman load
// and berth load read (a docker save archive that is an OCI layout too).
func writeOutput(e *engine.Engine, req buildreq.Request, id string) error {
	store, err := e.Images()
	if err != nil {
		return err
	}
	ref := id
	if len(req.Tags) > 0 {
		ref = req.Tags[0]
	}
	tmp, err := os.CreateTemp(filepath.Dir(req.OutputFile), ".berth-output-")
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = store.Export(tmp, []string{ref})
	if err == nil {
		err = tmp.Chmod(0o644) // as docker save -o writes it
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), req.OutputFile)
	}
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

// unpackContext unpacks a context given as a tar archive into a directory
// beside it, every entry kept beneath it, removes the archive, and reads
// the Dockerfile from it.
func unpackContext(req *buildreq.Request) (string, error) {
	defer os.Remove(req.ContextTar)
	dir, err := os.MkdirTemp(filepath.Dir(req.ContextTar), "context-")
	if err != nil {
		return "", err
	}
	f, err := os.Open(req.ContextTar)
	if err != nil {
		return dir, err
	}
	defer f.Close()
	r, err := build.Decompress(f)
	if err != nil {
		return dir, fmt.Errorf("the context archive: %w", err)
	}
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return dir, err
	}
	defer root.Close()
	if err := archive.Extract(r, archive.Root{F: root, Contained: true}, "/", archive.ExtractOptions{}); err != nil {
		return dir, fmt.Errorf("the context archive: %w", err)
	}
	name, err := securejoin.SecureJoin(dir, req.DockerfileName)
	if err != nil {
		return dir, err
	}
	if req.Dockerfile, err = os.ReadFile(name); err != nil {
		return dir, errdefs.New(errdefs.ErrInvalidArgument, "cannot find %s in the context archive: name it with -f", req.DockerfileName)
	}
	req.Context = dir
	return dir, nil
}
