package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/volume"
)

// TestDiskUsageSummary: a layer two images share counts once; what only
// unused images hold is reclaimable, as are stopped containers' layers
// and unmounted volumes.
func TestDiskUsageSummary(t *testing.T) {
	du := DiskUsage{
		Images: []ImageUsage{
			{Image: image.Image{ID: "a"}, Containers: 1, layers: map[string]int64{"base": 100, "app": 10}},
			{Image: image.Image{ID: "b"}, layers: map[string]int64{"base": 100, "tool": 30}},
		},
		Containers: []ContainerUsage{
			{Record: managed.Record{State: managed.State{Status: managed.Running}}, Size: 5},
			{Record: managed.Record{State: managed.State{Status: managed.Created}}, Size: 7},
		},
		Volumes: []VolumeUsage{{Name: "used", Links: 1, Size: 50}, {Name: "free", Size: 20}},
	}
	want := []UsageSummary{
		{Type: "Images", Total: 2, Active: 1, Size: 140, Reclaimable: 30},
		{Type: "Containers", Total: 2, Active: 1, Size: 12, Reclaimable: 7},
		{Type: "Local Volumes", Total: 2, Active: 1, Size: 70, Reclaimable: 20},
		{Type: "Build Cache"},
	}
	if got := du.Summary(); !reflect.DeepEqual(got, want) {
		t.Errorf("summary:\n%+v\nwant\n%+v", got, want)
	}
}

func TestDirSize(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "f"), make([]byte, 300), 0o644)
	os.WriteFile(filepath.Join(dir, "a", "b", "g"), make([]byte, 45), 0o644)
	// A hard link is the same data: counted once.
	os.Link(filepath.Join(dir, "a", "f"), filepath.Join(dir, "link"))
	if got := dirSize(dir); got != 345 {
		t.Errorf("dirSize = %d, want 345", got)
	}
	if got := dirSize(filepath.Join(dir, "none")); got != 0 {
		t.Errorf("missing dir: %d", got)
	}
}

// TestSystemPrune: stopped and created containers go, a running one
// stays; with Volumes, the unmounted anonymous volume goes, a named one
// stays until volume prune -a; the space they held is reported.
func TestSystemPrune(t *testing.T) {
	e := New(Options{Root: t.TempDir(), Runroot: t.TempDir()})
	var ids []string
	for _, name := range []string{"made", "up"} {
		rec, err := e.CreateStored(managed.Config{Rootfs: "/", Cmd: []string{"true"}}, CreateOptions{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
		os.MkdirAll(filepath.Join(e.ContainerDir(rec.ID), "upper"), 0o755)
		os.WriteFile(filepath.Join(e.ContainerDir(rec.ID), "upper", "data"), make([]byte, 500), 0o644)
	}
	owner, err := e.Containers().Own(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Release()
	e.Containers().Update(ids[1], func(r *managed.Record) { r.State.Status = managed.Running })
	v, _, err := e.Volumes().Create("lone", volume.Options{Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(v.Mountpoint, "x"), make([]byte, 1000), 0o644)
	// A named volume stays: Docker 23's system prune --volumes takes
	// anonymous ones only.
	if _, _, err := e.Volumes().Create("named", volume.Options{}); err != nil {
		t.Fatal(err)
	}

	du, w := e.DiskUsage()
	if len(w) != 0 || len(du.Containers) != 2 || len(du.Volumes) != 2 {
		t.Fatalf("disk usage: %+v %v", du, w)
	}
	r, w, err := e.SystemPrune(PruneOptions{})
	if err != nil || len(w) != 0 {
		t.Fatal(err, w)
	}
	if !reflect.DeepEqual(r.Containers, []string{ids[0]}) || len(r.Volumes) != 0 || r.Reclaimed != 500 {
		t.Errorf("prune: %+v", r)
	}
	if _, err := e.Volumes().Get("lone"); err != nil {
		t.Errorf("the volume went without --volumes: %v", err)
	}
	r, _, err = e.SystemPrune(PruneOptions{Volumes: true, AllImages: true})
	if err != nil || !reflect.DeepEqual(r.Volumes, []string{"lone"}) || r.Reclaimed != 1000 || len(r.Containers) != 0 {
		t.Errorf("prune --volumes: %+v %v", r, err)
	}
	if _, err := e.Containers().Get("up"); err != nil {
		t.Errorf("the running container went: %v", err)
	}
	if _, err := e.Volumes().Get("named"); err != nil {
		t.Errorf("system prune --volumes removed a named volume: %v", err)
	}
	var reclaimed int64
	if names, err := e.PruneVolumes(true, &reclaimed); err != nil || !reflect.DeepEqual(names, []string{"named"}) {
		t.Errorf("volume prune -a: %q %v", names, err)
	}
}
