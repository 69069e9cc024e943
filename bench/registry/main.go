// Command registry is bench/image.sh's local registry: it serves an
// in-memory OCI registry (go-containerregistry's pkg/registry) on
// 127.0.0.1, pushes one image made of the given gzipped layer tarballs into
// it, writes what it pushed to an info file, and serves until SIGTERM or
// SIGINT, or until -max-life has passed.
//
//	registry -info FILE [-repo bench/image:latest] [-max-life 2h] LAYER.tar.gz...
//
// The info file (written once the push is done, by rename) is JSON:
// {"port", "ref", "digest", "layers": [{"digest", "size"}], "compressed"}.
// Plain http; nothing but 127.0.0.1 is ever contacted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type layerInfo struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

type info struct {
	Port       int         `json:"port"`
	Ref        string      `json:"ref"`
	Digest     string      `json:"digest"`
	Layers     []layerInfo `json:"layers"`
	Compressed int64       `json:"compressed"`
}

func main() {
	infoPath := flag.String("info", "", "write what was pushed here (JSON), once the push is done")
	repo := flag.String("repo", "bench/image:latest", "repository:tag to push to")
	maxLife := flag.Duration("max-life", 2*time.Hour, "stop by itself after this long")
	flag.Parse()
	if *infoPath == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: registry -info FILE [-repo REPO:TAG] [-max-life D] LAYER.tar.gz...")
		os.Exit(2)
	}
	if err := run(*infoPath, *repo, *maxLife, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

func run(infoPath, repo string, maxLife time.Duration, layers []string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		ReadHeaderTimeout: 30 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	port := ln.Addr().(*net.TCPAddr).Port
	ref := fmt.Sprintf("127.0.0.1:%d/%s", port, repo)
	inf, err := push(ref, layers)
	if err != nil {
		srv.Close()
		return err
	}
	inf.Port = port
	b, err := json.MarshalIndent(inf, "", "  ")
	if err != nil {
		return err
	}
	tmp := infoPath + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, infoPath); err != nil {
		return err
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(maxLife):
		fmt.Fprintf(os.Stderr, "registry: stopping after %s (-max-life)\n", maxLife)
	case err := <-served:
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// push builds an OCI image of the layers, bottom first (each a gzipped
// tarball, pushed as it is), and writes it to ref.
func push(ref string, layers []string) (*info, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	inf := &info{Ref: ref}
	var ls []v1.Layer
	for _, p := range layers {
		l, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		n, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		inf.Layers = append(inf.Layers, layerInfo{Digest: d.String(), Size: n})
		inf.Compressed += n
		ls = append(ls, l)
	}
	img, err = mutate.AppendLayers(img, ls...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	if err := remote.Write(r, img); err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	inf.Digest = d.String()
	return inf, nil
}
