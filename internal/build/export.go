package build

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/archive"
	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootless"
)

// ExportFiles writes the file system of image id, the final stage's, as
// --output type=local or type=tar asks, as BuildKit's local and tar
// exporters do: into the directory dest (owners kept when berth runs as
// root; rootless, the caller's, not IDs of its user namespace), or as a tar archive to the file dest or, for
// "-", to stdout. A new directory or file appears complete or not at all.
func ExportFiles(e *engine.Engine, id, typ, dest string, stdout io.Writer) error {
	var err error
	switch {
	case typ == "local":
		err = exportLocal(e, id, dest)
	case dest == "-":
		err = writeFiles(e, id, stdout)
	default:
		err = exportTarFile(e, id, dest)
	}
	if err != nil {
		return fmt.Errorf("--output type=%s,dest=%s: %w", typ, dest, err)
	}
	return nil
}

// writeFiles writes the image's files to w as a tar stream: a container's
// root of the image, never started, removed afterwards.
func writeFiles(e *engine.Engine, id string, w io.Writer) error {
	step, err := e.NewStep(id, managed.Config{NetworkMode: "none"})
	if err != nil {
		return err
	}
	defer func() { _ = step.Remove() }()
	return step.WithRoot(func(root archive.Root) error {
		return archive.Write(w, root, "/", "", archive.WriteOptions{OneMount: true})
	})
}

// exportTarFile writes the tar to a temporary file beside dest, renamed
// to it once complete.
func exportTarFile(e *engine.Engine, id, dest string) error {
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".berth-output-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = writeFiles(e, id, tmp)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dest)
	}
	return err
}

// exportLocal extracts the image's files into dest: an existing directory
// as it is (what it holds is kept or overwritten, as BuildKit's), a new
// one made beside it first and renamed into place.
func exportLocal(e *engine.Engine, id, dest string) error {
	dir := dest
	if _, err := os.Lstat(dest); os.IsNotExist(err) {
		if dir, err = os.MkdirTemp(filepath.Dir(dest), ".berth-output-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir) // gone once renamed
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
	}
	if err := extractFiles(e, id, dir); err != nil {
		return err
	}
	if dir != dest {
		return os.Rename(dir, dest)
	}
	return nil
}

// extractFiles streams the image's tar into dir, contained in it.
func extractFiles(e *engine.Engine, id, dir string) error {
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := writeFiles(e, id, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	err = archive.Extract(pr, archive.Root{F: f, Contained: true}, "/", archive.ExtractOptions{KeepOwners: !rootless.Active()})
	pr.CloseWithError(io.ErrClosedPipe) // a failed extract stops the writer
	if werr := <-done; werr != nil && err == nil {
		err = werr
	}
	return err
}
