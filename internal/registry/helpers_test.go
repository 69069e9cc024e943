package registry

import (
	"os"
	"time"

	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/image/imagetest"
)

func init() { image.SetRetryDelay(10 * time.Millisecond) }

// The image store's test builders (imagetest), under the names the
// tests moved from internal/image use.
var (
	mkTar         = imagetest.MkTar
	file          = imagetest.File
	dir           = imagetest.Dir
	symlink       = imagetest.Symlink
	hardlink      = imagetest.Hardlink
	whiteout      = imagetest.Whiteout
	gz            = imagetest.Gz
	snapshot      = imagetest.Snapshot
	readDirNames  = imagetest.ReadDirNames
	sparseTar     = imagetest.SparseTar
	sparseFormats = imagetest.SparseFormats
)

type segment = imagetest.Segment

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
