package main

import (
	"github.com/berth-runtime/berth/internal/checkpoint"
	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// addCriuFlags adds the flags checkpoint and restore share (runc's names).
func addCriuFlags(cmd *cobra.Command, o *checkpoint.Options) {
	fl := cmd.Flags()
	fl.StringVar(&o.ImagePath, "image-path", "", "directory of the checkpoint's images (default ./checkpoint)")
	fl.StringVar(&o.WorkPath, "work-path", "", "directory for CRIU's logs and work files (default: the image path)")
	fl.BoolVar(&o.TCPEstablished, "tcp-established", false, "allow open TCP connections")
	fl.BoolVar(&o.ExtUnixSk, "ext-unix-sk", false, "allow external unix sockets")
	fl.BoolVar(&o.ShellJob, "shell-job", false, "allow shell jobs (a process attached to a terminal)")
	fl.BoolVar(&o.FileLocks, "file-locks", false, "handle file locks")
	fl.StringVar(&o.ManageCgroupsMode, "manage-cgroups-mode", "", "cgroups mode: soft (default), full, strict or ignore")
	fl.StringSliceVar(&o.EmptyNs, "empty-ns", nil, "create a namespace but do not restore its properties (network)")
	fl.BoolVar(&o.AutoDedup, "auto-dedup", false, "deduplicate memory images")
	fl.BoolVar(&o.LazyPages, "lazy-pages", false, "restore memory pages lazily, through userfaultfd")
}

func newCheckpointCommand(g *globals) *cobra.Command {
	var o checkpoint.Options
	cmd := &cobra.Command{
		Use:   "checkpoint [flags] CONTAINER_ID",
		Short: "Checkpoint a running container with CRIU",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withContainer(g, args[0], func(c *container.Container) error {
				if err := c.Checkpoint(o, g.criu); err != nil {
					return err
				}
				if o.LeaveRunning || o.PreDump {
					return nil
				}
				// runc compat: a checkpointed container is destroyed.
				return c.Delete(true)
			})
		},
	}
	addCriuFlags(cmd, &o)
	fl := cmd.Flags()
	fl.StringVar(&o.ParentPath, "parent-path", "", "images of a pre-dump, relative to --image-path")
	fl.BoolVar(&o.LeaveRunning, "leave-running", false, "leave the container running after the checkpoint")
	fl.BoolVar(&o.PreDump, "pre-dump", false, "dump memory only, and leave the container running")
	fl.StringVar(&o.PageServer, "page-server", "", "ADDRESS:PORT of a CRIU page server")
	fl.Int("status-fd", -1, "ignored: CRIU's lazy-pages readiness is not reported")
	return cmd
}

func newRestoreCommand(g *globals) *cobra.Command {
	var o checkpoint.Options
	f := &createFlags{}
	var noSubreaper bool
	cmd := &cobra.Command{
		Use:   "restore [flags] CONTAINER_ID",
		Short: "Restore a container from a CRIU checkpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(g, args[0])
			if err != nil {
				return err
			}
			opts.Foreground = !f.detach
			if opts.Foreground && !noSubreaper {
				// Orphans of the restored tree are reaped here.
				_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
			}
			c, err := container.Restore(opts, o, g.criu)
			if err != nil {
				return err
			}
			defer c.Close()
			if f.detach {
				return nil
			}
			if exit := c.Wait(); exit.Code != 0 {
				return errdefs.Exit{Code: exit.Code}
			}
			return nil
		},
	}
	addCreateFlags(cmd, f)
	addCriuFlags(cmd, &o)
	cmd.Flags().BoolVarP(&f.detach, "detach", "d", false, "return once the container is restored")
	cmd.Flags().BoolVar(&noSubreaper, "no-subreaper", false, "do not reap the restored tree's orphans")
	cmd.Flags().String("lsm-profile", "", "ignored: no LSM is applied here")
	cmd.Flags().String("lsm-mount-context", "", "ignored: no LSM is applied here")
	return cmd
}

// checkpointFeatures are the annotations berth-oci features reports for
// checkpoint/restore: runc's key, which tools read (runc compat: runc
// 1.1.5 sets it to "true" when built with CRIU support), when the criu
// binary answers, with CRIU's version. Whether CRIU works on this kernel
// is not asked here (criu check is slow and engines call features at
// start); a checkpoint that CRIU cannot make fails with CRIU's reason.
func checkpointFeatures(criu string) map[string]string {
	v, err := checkpoint.Version(criu)
	if err != nil {
		return nil
	}
	return map[string]string{"org.opencontainers.runc.checkpoint.enabled": "true", "org.berth.criu.version": v}
}
