package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/checkpoint"
	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/spf13/cobra"
)

// checkpointDir holds a checkpointed container's CRIU images, in the
// container's own directory, until it is restored.
func (g *globalOptions) checkpointDir(id string) string {
	return filepath.Join(g.containerDir(id), "checkpoint")
}

func newCheckpointCommand(g *globalOptions) *cobra.Command {
	var export string
	var keep bool
	var o checkpoint.Options
	cmd := &cobra.Command{
		Use:   "checkpoint [--export FILE] [--leave-running] [--tcp-established] [--keep] CONTAINER",
		Short: "Checkpoint a running container with CRIU; berth container restore resumes it",
		Example: "  berth container checkpoint web\n" +
			"  berth container checkpoint --export /tmp/web.tar.gz web",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			return g.engine().WithOpLock(rec.ID, func(rec managed.Record) error {
				return checkpointContainer(g, rec, o, export, keep)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&export, "export", "e", "", "also write the checkpoint to this tar.gz file")
	fl.BoolVarP(&keep, "keep", "k", false, "keep CRIU's log files")
	fl.BoolVarP(&o.LeaveRunning, "leave-running", "R", false, "leave the container running")
	fl.BoolVar(&o.TCPEstablished, "tcp-established", false, "checkpoint established TCP connections")
	return cmd
}

// checkpointableUserns refuses a container in a user namespace, before
// anything is touched. CRIU would dump the namespace's processes with IDs
// as the namespace sees them and must recreate the namespace, its ID
// mappings and the idmapped root filesystem on restore, which berth's
// restore does not hand it; and a rootless berth's CRIU lacks
// CAP_CHECKPOINT_RESTORE and CAP_SYS_ADMIN in the host's user namespace.
// A dump that cannot be restored is worse than a refusal.
func checkpointableUserns(rec managed.Record) error {
	if rootless.Active() {
		return fmt.Errorf("container %s runs in a rootless berth's user namespace: checkpoint needs root (CRIU needs CAP_CHECKPOINT_RESTORE in the host's user namespace)", rec.Name)
	}
	if rec.UserNS != nil {
		return fmt.Errorf("container %s runs in a user namespace (--userns=%s), which berth cannot checkpoint: a restore would have to recreate its ID mappings and idmapped root filesystem; checkpoint containers run without --userns", rec.Name, rec.UserNS.Mode)
	}
	return nil
}

// checkpointContainer dumps a running container into its checkpoint
// directory. Without --leave-running its processes end, and its monitor
// records it as stopped, never restarted.
func checkpointContainer(g *globalOptions, rec managed.Record, o checkpoint.Options, export string, keep bool) error {
	if err := g.engine().Admits(managed.OpCheckpoint, rec); err != nil {
		return err
	}
	if err := checkpointableUserns(rec); err != nil {
		return err
	}
	if rec.Network != nil && rec.Network.Mode != "host" && rec.Network.Mode != "none" {
		return fmt.Errorf("container %s is on the %s network, whose interface a restore cannot bring back: checkpoint containers run with --network host or none", rec.Name, rec.Network.Mode)
	}
	if rec.AutoRemove && !o.LeaveRunning {
		return fmt.Errorf("container %s was run with --rm: it would be removed with its checkpoint once stopped; checkpoint it with --leave-running", rec.Name)
	}
	c, err := container.Attach(g.runroot, rec.ID)
	if err != nil {
		return err
	}
	if s, err := c.Spec(); err == nil && s.Process != nil && s.Process.Terminal {
		return fmt.Errorf("container %s has a terminal (-t), which CRIU cannot hand over: checkpoint containers run without -t", rec.Name)
	}
	store := g.containers()
	o.ImagePath = g.checkpointDir(rec.ID)
	if err := os.RemoveAll(o.ImagePath); err != nil {
		return err
	}
	if !o.LeaveRunning {
		// CRIU ends the processes: no restart policy may start it again.
		if _, err := store.Update(rec.ID, func(r *managed.Record) { r.State.StopRequested = true }); err != nil {
			return err
		}
	}
	if err := c.Checkpoint(o, ""); err != nil {
		_, _ = store.Update(rec.ID, func(r *managed.Record) { r.State.StopRequested = rec.State.StopRequested })
		if !keep {
			os.RemoveAll(o.ImagePath)
		}
		return err
	}
	if !o.LeaveRunning {
		store.WaitReleased(rec.ID, 10*time.Second)
	}
	if !keep {
		logs, _ := filepath.Glob(filepath.Join(o.ImagePath, "*.log"))
		for _, l := range logs {
			os.Remove(l)
		}
	}
	if export != "" {
		if err := writeTarball(export, o.ImagePath); err != nil {
			return err
		}
	}
	fmt.Println(rec.Name)
	return nil
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var imp string
	var keep, tcp bool
	cmd := &cobra.Command{
		Use:   "restore [--import FILE] [--tcp-established] [--keep] CONTAINER",
		Short: "Restore a checkpointed container, detached, with its log",
		Example: "  berth container restore web\n" +
			"  berth container restore --import /tmp/web.tar.gz web",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			return g.engine().WithOpLock(rec.ID, func(rec managed.Record) error {
				return restoreContainer(g, rec, imp, keep, tcp)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&imp, "import", "i", "", "restore from this tar.gz file of berth container checkpoint --export")
	fl.BoolVarP(&keep, "keep", "k", false, "keep the checkpoint and CRIU's log files")
	fl.BoolVar(&tcp, "tcp-established", false, "restore established TCP connections")
	return cmd
}

// restoreContainer starts a monitor that restores the container from its
// checkpoint directory instead of running it anew.
func restoreContainer(g *globalOptions, rec managed.Record, imp string, keep, tcp bool) error {
	if err := g.engine().Admits(managed.OpRestore, rec); err != nil {
		return err
	}
	dir := g.checkpointDir(rec.ID)
	if imp != "" {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := readTarball(imp, dir); err != nil {
			os.RemoveAll(dir)
			return err
		}
	}
	if err := checkpoint.CheckImage(dir); err != nil {
		return fmt.Errorf("container %s: %w (berth container checkpoint makes one)", rec.Name, err)
	}
	if err := g.engine().StartRestored(rec, engine.Restore{Dir: dir, TCPEstablished: tcp}); err != nil {
		return err
	}
	if !keep {
		os.RemoveAll(dir)
	}
	fmt.Println(rec.Name)
	return nil
}

// writeTarball writes dir's files (CRIU's images: regular files, no
// subdirectories) into a gzip'd tar file, through a temporary file.
func writeTarball(file, dir string) (err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	zw := gzip.NewWriter(tmp)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := addFile(tw, filepath.Join(dir, e.Name())); err != nil {
			tmp.Close()
			return fmt.Errorf("export: %w", err)
		}
	}
	err = errors.Join(tw.Close(), zw.Close(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func addFile(tw *tar.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: fi.Name(), Mode: 0o600, Size: fi.Size(), Typeflag: tar.TypeReg, ModTime: fi.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// readTarball unpacks an exported checkpoint into dir: regular files
// with plain names only, so an archive cannot write outside dir.
func readTarball(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("import %s: not a tar.gz of berth container checkpoint --export: %w", file, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg || h.Name != filepath.Base(h.Name) || strings.HasPrefix(h.Name, ".") {
			return fmt.Errorf("import %s: unexpected entry %q: not a checkpoint of berth container checkpoint --export", file, h.Name)
		}
		out, err := os.OpenFile(filepath.Join(dir, h.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
}
