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
	"github.com/berth-runtime/berth/internal/gitsrc"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/selfexe"
)

type buildFlags struct {
	file, target, iidfile, progress, network string
	output                                   string
	tags, buildArgs, labels, secrets         []string
	ssh                                      []string
	quiet, noCache, pull, squash             bool
}

func newBuildCommand(g *globalOptions) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Example: "  berth build -t app:1 .\n" +
			"  berth build -f docker/Dockerfile --build-arg VERSION=2 --target runtime -t app:2 .\n" +
			"  berth build -t app:3 - < Dockerfile\n" +
			"  berth build -t app:4 https://example.com/app.git#v1:docker\n" +
			"  berth build --ssh default -o out/ .",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.request(g, args[0], os.Stdin)
			if err != nil {
				return err
			}
			return runBuildHelper(req)
		},
	}
	fl := cmd.Flags()
	stringArrayVarP(fl, &f.tags, "tag", "t", `name and optionally a tag ("name:tag"); may be repeated`)
	fl.StringVarP(&f.file, "file", "f", "", "name of the Dockerfile (default: PATH/Dockerfile)")
	stringArrayVarP(fl, &f.buildArgs, "build-arg", "", "set a build-time variable (KEY=VALUE, or KEY: from the environment)")
	fl.StringVar(&f.target, "target", "", "build the named stage and what it needs only")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to the file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto (tty on a terminal), plain, tty, quiet")
	fl.StringVar(&f.network, "network", "bridge", "RUN's network: bridge, none or host")
	fl.StringVarP(&f.output, "output", "o", "", "write the result instead of storing the image: type=oci|docker,dest=FILE (an image archive), type=local,dest=DIR or DIR (the files), type=tar,dest=FILE|- (the files as a tar)")
	stringArrayVarP(fl, &f.secrets, "secret", "", "a secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR")
	stringArrayVarP(fl, &f.ssh, "ssh", "", "an SSH agent for RUN --mount=type=ssh: default|ID[=SOCKET|KEYFILE[,KEYFILE]] (default: SSH_AUTH_SOCK's)")
	fl.BoolVar(&f.pull, "pull", false, "pull every FROM image, even one already here")
	stringArrayVarP(fl, &f.labels, "label", "", "set a label on the image (KEY=VALUE)")
	fl.BoolVar(&f.squash, "squash", false, "merge the layers the build adds on its base image into one")
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
	req.Pull, req.Squash, req.Progress = f.pull, f.squash, f.progress
	if req.Secrets, req.EnvSecrets, err = parseSecrets(f.secrets); err != nil {
		return nil, err
	}
	if req.SSH, err = parseSSH(f.ssh, os.Getenv("SSH_AUTH_SOCK")); err != nil {
		return nil, err
	}
	if f.output != "" {
		if req.OutputFile, req.Export, err = parseOutput(f.output, f.quiet); err != nil {
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
	if gitsrc.IsContext(path) {
		req.GitContext, req.DockerfileName = path, f.file
		if req.DockerfileName == "" {
			req.DockerfileName = "Dockerfile"
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
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var stages []*os.File
	var vouch string
	if rootless.Inside() {
		// RUN's containers need the stages this berth was vouched for.
		stages, vouch = selfexe.Vouch(3)
		for _, f := range stages {
			defer f.Close()
		}
	}
	bin, release, err := selfexe.HelperFor(buildHelper, len(stages))
	if err != nil {
		return errdefs.New(errdefs.ErrInvalidArgument, "berth build: %v", err)
	}
	defer release()
	c := exec.Command(bin, "build")
	c.Stdin, c.Stdout, c.Stderr = bytes.NewReader(b), os.Stdout, os.Stderr
	if vouch != "" {
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

// parseSecrets takes --secret as docker build (buildx) does: id=ID with
// src=FILE (also source), or env=VAR (the value of the caller's VAR, or
// type=env with src naming it), or neither: the variable named ID if it
// is set, else the file ID. Files are checked here; variables are read
// here, so the value goes to berth-build on its standard input, never on
// a command line or in a file.
func parseSecrets(list []string) (files, env map[string]string, err error) {
	for _, s := range list {
		id, src, envName, typ := "", "", "", ""
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "id":
				id = v
			case "src", "source":
				src = v
			case "env":
				envName = v
			case "type":
				if v != "file" && v != "env" {
					return nil, nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --secret %q: type is file or env", s)
				}
				typ = v
			default:
				return nil, nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --secret %q: unknown key %q (id=ID,src=FILE or id=ID,env=VAR)", s, k)
			}
		}
		if typ == "env" && envName == "" {
			envName, src = src, ""
		}
		if id == "" {
			id = filepath.Base(src)
			if src == "" {
				id = envName
			}
		}
		if id == "" || id == "." || (src != "" && envName != "") {
			return nil, nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --secret %q: want id=ID,src=FILE or id=ID,env=VAR", s)
		}
		if src == "" && envName == "" {
			if _, ok := os.LookupEnv(id); ok {
				envName = id
			} else {
				src = id
			}
		}
		if envName != "" {
			v, ok := os.LookupEnv(envName)
			if !ok {
				return nil, nil, errdefs.New(errdefs.ErrInvalidArgument, "--secret %s: the environment has no %s: set it, or give the secret as src=FILE", id, envName)
			}
			if env == nil {
				env = map[string]string{}
			}
			env[id] = v
			delete(files, id)
			continue
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.Mode().IsRegular() {
			return nil, nil, errdefs.New(errdefs.ErrInvalidArgument, "--secret %s: %s is not a readable file", id, src)
		}
		if files == nil {
			files = map[string]string{}
		}
		files[id] = abs
		delete(env, id)
	}
	return files, env, nil
}
