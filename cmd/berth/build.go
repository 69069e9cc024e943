package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/buildreq"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/selfexe"
)

type buildFlags struct {
	file, target, iidfile, progress, network string
	output                                   string
	tags, buildArgs, labels, secrets         []string
	quiet, noCache, pull                     bool
}

func newBuildCommand(g *globalOptions) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Example: "  berth build -t app:1 .\n" +
			"  berth build -f docker/Dockerfile --build-arg VERSION=2 --target runtime -t app:2 .\n" +
			"  berth build -t app:3 - < Dockerfile",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.request(g, args[0], os.Stdin)
			if err != nil {
				return err
			}
			if err := rootlessBuildNetwork(req, cmd.Flags().Changed("network")); err != nil {
				return err
			}
			return runBuildHelper(req)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, `name and optionally a tag ("name:tag"); may be repeated`)
	fl.StringVarP(&f.file, "file", "f", "", "name of the Dockerfile (default: PATH/Dockerfile)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "set a build-time variable (KEY=VALUE, or KEY: from the environment)")
	fl.StringVar(&f.target, "target", "", "build the named stage and what it needs only")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to the file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto (tty on a terminal), plain, tty, quiet")
	fl.StringVar(&f.network, "network", "bridge", "RUN's network: bridge, none or host")
	fl.StringVarP(&f.output, "output", "o", "", "write the image to a file instead of the store: type=oci|docker,dest=FILE")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret file for RUN --mount=type=secret: id=ID,src=FILE")
	fl.BoolVar(&f.pull, "pull", false, "pull every FROM image, even one already here")
	fl.StringArrayVar(&f.labels, "label", nil, "set a label on the image (KEY=VALUE)")
	return cmd
}

// request resolves the command line: the context, the Dockerfile read,
// the build arguments. Bad input is one line, before anything is made.
func (f *buildFlags) request(g *globalOptions, path string, stdin io.Reader) (*buildreq.Request, error) {
	bad := func(format string, a ...any) error { return errdefs.New(errdefs.ErrInvalidArgument, format, a...) }
	switch f.progress {
	case "auto", "plain", "tty":
	case "quiet":
		f.quiet = true
	default:
		return nil, bad("invalid --progress %q: want auto, plain, tty or quiet", f.progress)
	}
	switch f.network {
	case "bridge", "default", "none", "host":
	default:
		return nil, bad("invalid --network %q for build: want bridge, none or host", f.network)
	}
	var err error
	req := &buildreq.Request{Root: g.root, Runroot: g.runroot, StorageDriver: g.storageDriver, Tags: f.tags,
		Target: f.target, NoCache: f.noCache, Quiet: f.quiet, Network: f.network, IIDFile: f.iidfile, BuildArgs: map[string]string{}}
	req.Pull, req.Progress = f.pull, f.progress
	if req.Secrets, err = parseSecrets(f.secrets); err != nil {
		return nil, err
	}
	if f.output != "" {
		if req.OutputFile, err = parseOutput(f.output); err != nil {
			return nil, err
		}
	}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, bad("invalid --label %q: want KEY=VALUE", l)
		}
		if req.Labels == nil {
			req.Labels = map[string]string{}
		}
		req.Labels[k] = v
	}
	for _, a := range f.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			v, ok = os.LookupEnv(k)
			if !ok {
				continue // as Docker: an unset variable is no argument
			}
		}
		req.BuildArgs[k] = v
	}
	if path == "-" {
		br := bufio.NewReader(stdin)
		if head, _ := br.Peek(262); isTarHead(head) {
			// A context as a tar archive: the Dockerfile is in it.
			req.DockerfileName = f.file
			if req.DockerfileName == "" {
				req.DockerfileName = "Dockerfile"
			}
			req.ContextTar, err = saveContext(g, br)
			return req, err
		}
		if f.file != "" {
			return nil, bad("-f cannot be used with a Dockerfile on standard input (berth build -)")
		}
		req.DockerfileName = "Dockerfile (standard input)"
		if req.Dockerfile, err = io.ReadAll(io.LimitReader(br, 16<<20)); err != nil {
			return nil, fmt.Errorf("read the Dockerfile from standard input: %w", err)
		}
		return req, nil
	}
	if req.Context, err = filepath.Abs(path); err != nil {
		return nil, err
	}
	if st, err := os.Stat(req.Context); err != nil || !st.IsDir() {
		return nil, bad("unable to prepare context: path %q not found or not a directory", path)
	}
	file := f.file
	if file == "" {
		file = filepath.Join(req.Context, "Dockerfile")
	}
	req.DockerfileName = file
	if req.Dockerfile, err = os.ReadFile(file); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, bad("cannot find the Dockerfile %s: name it with -f", file)
		}
		return nil, fmt.Errorf("read the Dockerfile: %w", err)
	}
	return req, nil
}

// runBuildHelper runs berth-build with the request, its output and exit
// status berth's own.
func runBuildHelper(req *buildreq.Request) error {
	bin, err := selfexe.Helper(buildHelper)
	if err != nil {
		return errdefs.New(errdefs.ErrInvalidArgument, "berth build needs %v", err)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	c := exec.Command(bin, "build")
	c.Stdin, c.Stdout, c.Stderr = bytes.NewReader(b), os.Stdout, os.Stderr
	if rootless.Inside() {
		// The stages the user's berth vouched for, which berth-build's
		// steps start containers with.
		stages, vouch := selfexe.Vouch(3)
		for _, f := range stages {
			defer f.Close()
		}
		c.ExtraFiles, c.Env = stages, append(os.Environ(), vouch)
	}
	// A signal to berth alone (kill, a CI runner) reaches the build too,
	// which stops and cleans up; berth waits for it.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return fmt.Errorf("run %s: %w", buildHelper, err)
	}
	go func() {
		for sig := range sigs {
			_ = c.Process.Signal(sig)
		}
	}()
	err = c.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return errdefs.Exit{Code: ee.ExitCode()}
	}
	return err
}

// parseOutput takes --output type=oci|docker,dest=FILE (both write the
// same archive, a docker save one that is also an OCI layout).
func parseOutput(s string) (string, error) {
	typ, dest := "", ""
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			typ = v
		case "dest":
			dest = v
		default:
			return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --output %q: unknown key %q (type=oci|docker,dest=FILE)", s, k)
		}
	}
	if (typ != "oci" && typ != "docker") || dest == "" || dest == "-" {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --output %q: berth writes type=oci or type=docker to a file: type=oci,dest=FILE", s)
	}
	return filepath.Abs(dest)
}

// isTarHead says whether standard input starts a tar archive (gzip or
// bzip2 compressed, or ustar at 257) rather than a Dockerfile.
func isTarHead(head []byte) bool {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}), bytes.HasPrefix(head, []byte("BZh")):
		return true
	}
	return len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

// saveContext saves a context tar from standard input beside the build
// cache, for berth-build to unpack (it removes the file).
func saveContext(g *globalOptions, r io.Reader) (string, error) {
	dir := filepath.Join(g.root, "build")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "context-*.tar")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("read the context from standard input: %w", err)
	}
	return f.Name(), nil
}

// parseSecrets takes --secret id=ID,src=FILE (src also source; a file's
// path is checked here), as docker build does. env= is not supported:
// berth does not write the environment's secret to a file.
func parseSecrets(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, s := range list {
		id, src := "", ""
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "id":
				id = v
			case "src", "source":
				src = v
			case "type":
				if v != "file" {
					return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --secret %q: only type=file is supported", s)
				}
			default:
				return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --secret %q: unknown key %q (id=ID,src=FILE)", s, k)
			}
		}
		if src == "" {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --secret %q: want id=ID,src=FILE", s)
		}
		if id == "" {
			id = filepath.Base(src)
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.Mode().IsRegular() {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "--secret %s: %s is not a readable file", id, src)
		}
		out[id] = abs
	}
	return out, nil
}
