package build

import (
	"github.com/berth-runtime/berth/internal/engine"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/gitsrc"
)

// addGit runs an ADD of git repositories, as BuildKit's git source: each
// checked out at its ref (shallow, by the git program in a clean
// environment) into a scratch directory under <root>/build removed
// after the step, without .git unless --keep-git-dir=true, then copied as a
// directory's contents are; the key holds the tree's digest, so a ref
// that moved misses the cache.
func (b *builder) addGit(st *stageState, c *instructions.AddCommand, a copyArgs) (bool, error) {
	if c.Checksum != "" {
		return false, errdefs.New(errdefs.ErrInvalidArgument, "ADD --checksum of a git source is not supported by berth build: give a commit as the ref (#COMMIT)")
	}
	dir, release, err := engine.Scratch(b.e.Root, "git-")
	if err != nil {
		return false, err
	}
	defer release()
	keep := c.KeepGitDir != nil && *c.KeepGitDir
	var names []string
	for i, s := range c.SourcePaths {
		ref, err := gitsrc.Parse(s)
		if err != nil {
			return false, errdefs.New(errdefs.ErrInvalidArgument, "%v", err)
		}
		name := strconv.Itoa(i)
		if err := gitsrc.Checkout(b.ctx, ref, filepath.Join(dir, name), keep); err != nil {
			if b.ctx.Err() != nil {
				return false, errInterrupted
			}
			return false, errdefs.New(errdefs.ErrInvalidArgument, "%s: %v", s, err)
		}
		if st, err := os.Stat(filepath.Join(dir, name, ref.Subdir)); ref.Subdir != "" && (err != nil || !st.IsDir()) {
			return false, errdefs.New(errdefs.ErrInvalidArgument, "%s: %q is not a directory in the repository", s, ref.Subdir)
		}
		names = append(names, "/"+path.Join(name, ref.Subdir)+"/")
	}
	a.sd.SourcePaths, a.from, a.add = names, downloaded+dir, false
	return b.copyFiles(st, a)
}
