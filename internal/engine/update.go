package engine

import (
	"errors"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update is berth update's options (docker update's): a nil field is
// left as it is.
type Update struct {
	Memory, MemorySwap, MemoryReservation, CPUs *string
	CPUShares, CPUPeriod, CPUQuota, PidsLimit   *int64
	CpusetCpus, CpusetMems                      *string
	BlkioWeight                                 *uint16
	Restart                                     *managed.Policy
}

// apply is cfg with u's changes.
func (u Update) apply(cfg managed.Config) managed.Config {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&cfg.Memory, u.Memory)
	set(&cfg.MemorySwap, u.MemorySwap)
	set(&cfg.MemoryReservation, u.MemoryReservation)
	set(&cfg.CPUs, u.CPUs)
	set(&cfg.CpusetCpus, u.CpusetCpus)
	set(&cfg.CpusetMems, u.CpusetMems)
	for _, n := range []struct {
		dst *int64
		v   *int64
	}{{&cfg.CPUShares, u.CPUShares}, {&cfg.CPUPeriod, u.CPUPeriod}, {&cfg.CPUQuota, u.CPUQuota}, {&cfg.PidsLimit, u.PidsLimit}} {
		if n.v != nil {
			*n.dst = *n.v
		}
	}
	if u.PidsLimit != nil && *u.PidsLimit == 0 {
		cfg.PidsLimit = -1 // docker update: 0 is unlimited, not "unset"
	}
	if u.BlkioWeight != nil {
		cfg.BlkioWeight = *u.BlkioWeight
	}
	return cfg
}

// Update changes a container's resources: the stored configuration, so
// that every later start uses them and inspect shows them, and, when it
// runs, its cgroup at once (first: a change the kernel refuses is not
// stored). The caller holds the container's operation lock.
func (e *Engine) Update(rec managed.Record, u Update) error {
	old, err := configOf(rec)
	if err != nil {
		return err
	}
	if u.Restart != nil && u.Restart.Name != "no" && rec.AutoRemove {
		return errdefs.New(errdefs.ErrInvalidArgument, "container %s was run with --rm: it has no restart policy to update", rec.Name)
	}
	cfg := u.apply(*old)
	r, err := updatedResources(cfg)
	if err != nil {
		return err
	}
	if err := e.updateLive(e.WithPause(rec), r); err != nil {
		return err
	}
	store := e.Containers()
	if _, err := store.Update(rec.ID, func(r *managed.Record) {
		r.Config = &cfg
		if u.Restart != nil {
			r.Restart = *u.Restart
		}
	}); err != nil {
		return err
	}
	return updateStoredSpec(store, rec.ID, r)
}

// updateStoredSpec brings the OCI config of the last run, which inspect
// shows as Resources, up to date with the update.
func updateStoredSpec(store managed.Store, id string, r *specs.LinuxResources) error {
	s, err := store.Spec(id)
	if err != nil || s.Linux == nil || s.Linux.Resources == nil {
		return nil // never ran: the next run writes it
	}
	old := s.Linux.Resources
	old.Memory, old.CPU, old.Pids = r.Memory, r.CPU, r.Pids
	if r.BlockIO != nil {
		if old.BlockIO == nil {
			old.BlockIO = &specs.LinuxBlockIO{}
		}
		old.BlockIO.Weight = r.BlockIO.Weight
	}
	return store.SaveSpec(id, s)
}

// updatedResources are the cgroup settings of cfg that update may
// change (memory, cpu, pids, block I/O), checked as run checks them.
func updatedResources(cfg managed.Config) (*specs.LinuxResources, error) {
	s := spec.Default("/", []string{"/bin/true"})
	o := spec.RunOptions{Memory: cfg.Memory, CPUs: cfg.CPUs, CPUShares: cfg.CPUShares, PidsLimit: cfg.PidsLimit, ResourceOptions: cfg.ResourceOptions}
	if err := spec.ApplyResources(s, o); err != nil {
		return nil, err
	}
	in := s.Linux.Resources
	r := &specs.LinuxResources{Memory: in.Memory, CPU: in.CPU, Pids: in.Pids}
	if in.BlockIO != nil && in.BlockIO.Weight != nil {
		r.BlockIO = &specs.LinuxBlockIO{Weight: in.BlockIO.Weight}
	}
	return r, nil
}

// updateLive writes r into a running (or paused) container's cgroup.
func (e *Engine) updateLive(rec managed.Record, r *specs.LinuxResources) error {
	if rec.State.Status != managed.Running && rec.State.Status != managed.Paused {
		return nil
	}
	// Attach: the monitor running it holds the runtime's lock for its
	// whole life; the op lock keeps other berth commands out.
	c, err := container.Attach(e.Runroot, rec.ID)
	if errors.Is(err, container.ErrNotExist) {
		return nil // it ended meanwhile: stored only
	}
	if err != nil {
		return err
	}
	if err := c.UpdateCgroup(r); err != nil {
		return errdefs.New(errdefs.ErrInvalidArgument, "update %s: %v", rec.Name, err)
	}
	return nil
}
