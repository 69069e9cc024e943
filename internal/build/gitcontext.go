package build

import (
	"context"
	"errors"
	"github.com/berth-runtime/berth/internal/engine"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/gitsrc"
)

// GitContext checks out the git context url (URL#ref:subdir) into a
// scratch directory under root, and returns the context directory in it,
// the Dockerfile named dockerfileName there, and the function that
// removes the checkout (also when err is set).
func GitContext(ctx context.Context, root, url, dockerfileName string) (dir string, dockerfile []byte, release func(), err error) {
	ref, err := gitsrc.Parse(url)
	if err != nil {
		return "", nil, func() {}, errdefs.New(errdefs.ErrInvalidArgument, "%v", err)
	}
	tmp, release, err := engine.Scratch(root, "git-")
	if err != nil {
		return "", nil, func() {}, err
	}
	repo := filepath.Join(tmp, "repo")
	if err := gitsrc.Checkout(ctx, ref, repo, false); err != nil {
		if ctx.Err() != nil {
			return "", nil, release, errdefs.Exit{Code: 130, Err: errors.New("build interrupted while fetching the git context")}
		}
		return "", nil, release, errdefs.New(errdefs.ErrInvalidArgument, "the git context %s: %v", url, err)
	}
	dir, err = securejoin.SecureJoin(repo, ref.Subdir)
	if err != nil {
		return "", nil, release, err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", nil, release, errdefs.New(errdefs.ErrInvalidArgument, "the git context %s: %q is not a directory in the repository", url, ref.Subdir)
	}
	name, err := securejoin.SecureJoin(dir, dockerfileName)
	if err != nil {
		return "", nil, release, err
	}
	if dockerfile, err = os.ReadFile(name); err != nil {
		return "", nil, release, errdefs.New(errdefs.ErrInvalidArgument, "cannot find %s in the git context %s: name it with -f", dockerfileName, url)
	}
	return dir, dockerfile, release, nil
}
