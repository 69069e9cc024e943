package engine

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/managed"
)

// Sample is one running container's counters at one moment.
type Sample struct {
	Record managed.Record
	At     time.Time
	Cgroup cgroups.Stats
	RX, TX uint64 // bytes over its network interfaces, loopback aside
}

// Stats samples the named containers (name, ID or prefix), or with none
// every running one; those not running are left out.
func (e *Engine) Stats(refs []string) (map[string]Sample, error) {
	store := e.Containers()
	var recs []managed.Record
	if len(refs) == 0 {
		for _, rec := range store.List() {
			if rec.State.Up() {
				recs = append(recs, rec)
			}
		}
	}
	for _, ref := range refs {
		rec, err := store.Get(ref)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	out := map[string]Sample{}
	for _, rec := range recs {
		c, err := container.Attach(e.Runroot, rec.ID)
		if err != nil {
			continue // not running
		}
		s := Sample{Record: rec, At: time.Now(), Cgroup: c.Stats()}
		if f, err := c.OpenProcFile("net/dev"); err == nil {
			s.RX, s.TX = parseNetDev(f)
			f.Close()
		}
		out[rec.ID] = s
	}
	return out, nil
}

// parseNetDev sums received and sent bytes over the interfaces of a
// /proc/net/dev, loopback aside.
func parseNetDev(r io.Reader) (rx, tx uint64) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(fields[0], 10, 64)
		t, _ := strconv.ParseUint(fields[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}

// Processes are the host PIDs of the container's processes.
func (e *Engine) Processes(rec managed.Record) ([]int, error) {
	c, err := container.Attach(e.Runroot, rec.ID)
	if err != nil {
		return nil, errNotRunning(rec)
	}
	return c.Processes(), nil
}
