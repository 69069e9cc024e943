package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/berth-runtime/berth/internal/build"
	"github.com/berth-runtime/berth/internal/buildreq"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/gitsrc"
)

// gitContext checks the git context out into a scratch directory under
// <root>/build (build.Scratch: release removes it, and a build that dies
// leaves it to the next one's sweep), without .git, as docker build does;
// its subdirectory is the context and the Dockerfile is read from there.
func gitContext(ctx context.Context, req *buildreq.Request) (func(), error) {
	ref, err := gitsrc.Parse(req.GitContext)
	if err != nil {
		return func() {}, errdefs.New(errdefs.ErrInvalidArgument, "%v", err)
	}
	tmp, release, err := build.Scratch(req.Root, "git-")
	if err != nil {
		return func() {}, err
	}
	repo := filepath.Join(tmp, "repo")
	if err := gitsrc.Checkout(ctx, ref, repo, false); err != nil {
		if ctx.Err() != nil {
			return release, errdefs.Exit{Code: 130, Err: errors.New("build interrupted while fetching the git context")}
		}
		return release, errdefs.New(errdefs.ErrInvalidArgument, "the git context %s: %v", req.GitContext, err)
	}
	dir, err := securejoin.SecureJoin(repo, ref.Subdir)
	if err != nil {
		return release, err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return release, errdefs.New(errdefs.ErrInvalidArgument, "the git context %s: %q is not a directory in the repository", req.GitContext, ref.Subdir)
	}
	name, err := securejoin.SecureJoin(dir, req.DockerfileName)
	if err != nil {
		return release, err
	}
	if req.Dockerfile, err = os.ReadFile(name); err != nil {
		return release, errdefs.New(errdefs.ErrInvalidArgument, "cannot find %s in the git context %s: name it with -f", req.DockerfileName, req.GitContext)
	}
	req.Context = dir
	return release, nil
}
