package rootfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// fsconfigValueMax is the longest string fsconfig(2) takes as one value:
// the kernel copies it with strndup_user(value, 256) and refuses a longer
// one with EINVAL. Before lowerdir+ (Linux 6.8) an overlay's layers are
// one "lowerdir" value, so three layers named by their full paths in
// berth's store (about 110 bytes each) are already too long.
const fsconfigValueMax = 255

// lowerdirValue names dirs, top layer first, in one lowerdir value that
// fsconfig takes: each layer by an O_PATH descriptor, /proc/self/fd/N,
// which overlay resolves when the overlay is created, about 17 bytes a
// layer where a path in the store is 110. The caller calls release once
// the overlay is created. More layers than fit (about 15) are refused:
// such a kernel can name them only in mount(2)'s data, which needs a
// mount point in the host's namespace.
func lowerdirValue(dirs []string) (value string, release func(), err error) {
	var files []*os.File
	release = func() {
		for _, f := range files {
			f.Close()
		}
	}
	names := make([]string, 0, len(dirs))
	for _, dir := range dirs {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			release()
			return "", nil, fmt.Errorf("open layer %s: %w", dir, err)
		}
		files = append(files, os.NewFile(uintptr(fd), dir))
		names = append(names, "/proc/self/fd/"+strconv.Itoa(fd))
	}
	value = strings.Join(names, ":")
	if len(value) > fsconfigValueMax {
		release()
		return "", nil, fmt.Errorf("an image of %d layers is more than this kernel's overlay takes through fsconfig without lowerdir+ (Linux 6.8): at most about 15", len(dirs))
	}
	return value, release, nil
}
