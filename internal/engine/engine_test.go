package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
	"github.com/berth-runtime/berth/internal/volume"
	"golang.org/x/sys/unix"
)

func rawRecord(t *testing.T, e *Engine, id string) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.ContainerDir(id), "container.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCreateStoresResolvedConfig: a new record holds the configuration,
// resolved (absolute root filesystem, default hostname), and no command
// line to replay.
func TestCreateStoresResolvedConfig(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	t.Chdir(t.TempDir())
	entry := ""
	cfg := managed.Config{Rootfs: "rootfs", Cmd: []string{"/bin/sh", "-c", "echo $A"}, Env: []string{"A=1"},
		Entrypoint: &entry, NetworkMode: "none", Mounts: []spec.MountRequest{{Type: spec.MountVolume, Destination: "/data"}}}
	rec, owner, err := e.Create(cfg, CreateOptions{Name: "web", Restart: managed.Policy{Name: "always"}, Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	owner.Release()
	got, err := e.Containers().Get("web")
	if err != nil {
		t.Fatal(err)
	}
	want := cfg
	want.Rootfs, _ = filepath.Abs("rootfs")
	want.Hostname = rec.ID[:12]
	if !reflect.DeepEqual(got.Config, &want) {
		t.Errorf("stored config:\n%+v\nwant\n%+v", got.Config, &want)
	}
	if got.Restart.Name != "always" || !got.Detached || got.State.Status != managed.Created {
		t.Errorf("record: %+v", got)
	}
	raw := rawRecord(t, e, rec.ID)
	if _, ok := raw["Args"]; ok {
		t.Errorf("the record holds a command line: %s", raw["Args"])
	}
	if _, ok := raw["Config"]; !ok {
		t.Errorf("the record has no Config: %v", raw)
	}
}

// TestCreateRefusesAndLeavesNothing: a container without image or root
// filesystem, or with a bad name, is refused before anything is stored.
func TestCreateRefusesAndLeavesNothing(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	if _, _, err := e.Create(managed.Config{}, CreateOptions{}); !errors.Is(err, ErrNoImage) {
		t.Errorf("no image: %v, want ErrNoImage", err)
	}
	if _, _, err := e.Create(managed.Config{Rootfs: "/"}, CreateOptions{Name: "../x"}); err == nil || !strings.Contains(err.Error(), "invalid container name") {
		t.Errorf("bad name: %v", err)
	}
	if recs := e.Containers().List(); len(recs) != 0 {
		t.Errorf("left behind: %+v", recs)
	}
}

// writeLegacy stores a record as a berth before managed.Config wrote it:
// its command line only.
func writeLegacy(t *testing.T, e *Engine, id, name string, args []string) managed.Record {
	t.Helper()
	dir := e.ContainerDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := map[string]any{"Id": id, "Name": name, "Created": time.Now().UTC(), "Args": args,
		"Command": []string{"busybox", "true"}, "RestartPolicy": map[string]any{"Name": "no"},
		"State": map[string]any{"Status": "exited"}}
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dir, "container.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := e.Containers().Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestStartRefusesRecordWithoutConfig: a container of an older berth is
// refused with one line saying what to do, and nothing is started.
func TestStartRefusesRecordWithoutConfig(t *testing.T) {
	e := New(Options{Root: t.TempDir(), Runroot: t.TempDir()})
	rec := writeLegacy(t, e, strings.Repeat("ab", 32), "old", []string{"--network=none"})
	err := e.Start(rec)
	if !errors.Is(err, ErrNoConfig) {
		t.Fatalf("start: %v, want ErrNoConfig", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "container old ") || !strings.Contains(msg, "berth rm") {
		t.Errorf("message: %q", msg)
	}
	if managed.Held(e.ContainerDir(rec.ID)) {
		t.Error("the refused container's lifetime lock is held")
	}
}

// TestVolumeRefs: the volumes a container mounts are found from its
// configuration (anonymous ones by their derived names), and from an
// older record's command line, so that prune keeps them.
func TestVolumeRefs(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	cfg := managed.Config{Rootfs: "/", Mounts: []spec.MountRequest{
		{Type: spec.MountVolume, Source: "data", Destination: "/data"},
		{Type: spec.MountVolume, Destination: "/cache"},
		{Type: spec.MountBind, Source: "/srv", Destination: "/srv"},
	}}
	rec, owner, err := e.Create(cfg, CreateOptions{Name: "new"})
	if err != nil {
		t.Fatal(err)
	}
	owner.Release()
	old := writeLegacy(t, e, strings.Repeat("cd", 32), "old", []string{"--volume=data:/d", "--mount=type=volume,target=/anon", "--network=none"})
	refs := e.VolumeRefs()
	var names []string
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	anonNew, anonOld := anonymous(rec.ID, "/cache"), anonymous(old.ID, "/anon")
	want := []string{anonNew, anonOld, "data"}
	sort.Strings(want)
	if !reflect.DeepEqual(names, want) {
		t.Errorf("volumes %v, want %v", names, want)
	}
	if len(refs["data"]) != 2 {
		t.Errorf("data used by %d containers, want 2", len(refs["data"]))
	}
}

func anonymous(id, dst string) string {
	return volume.AnonymousName(id, dst)
}

// TestReadyLine: the monitor's one line to berth run -d and start carries
// the start error and its status, on one line.
func TestReadyLine(t *testing.T) {
	if err := parseReady(readyLine(nil)); err != nil {
		t.Errorf("ok: %v", err)
	}
	err := parseReady(readyLine(&container.StartError{Code: 127, Err: errors.New("exec: \"nope\":\nnot found")}))
	var se *container.StartError
	if !errors.As(err, &se) || se.Code != 127 || se.Error() != "exec: \"nope\": not found" {
		t.Errorf("start error: %#v", err)
	}
	if err := parseReady(readyLine(fmt.Errorf("no such image"))); !errors.As(err, &se) || se.Code != ExitRuntimeError {
		t.Errorf("berth's own error: %#v", err)
	}
	if err := parseReady(""); !errors.Is(err, errMonitorEnded) {
		t.Errorf("monitor gone: %v", err)
	}
}

// TestFinishRecord: an exit and a failure to start are recorded with
// their statuses, and the monitor stays on record unless it is gone.
func TestFinishRecord(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	rec, owner, err := e.Create(managed.Config{Rootfs: "/"}, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner.Release()
	store := e.Containers()
	store.Update(rec.ID, func(r *managed.Record) { r.State.MonitorPid, r.State.MonitorStart = 42, 7 })
	got := finishRecord(store, rec.ID, container.Exit{Code: 3, OOMKilled: true}, nil, false)
	if st := got.State; st.Status != managed.Exited || st.ExitCode != 3 || !st.OOMKilled || st.MonitorPid != 42 {
		t.Errorf("exit: %+v", st)
	}
	got = finishRecord(store, rec.ID, container.Exit{}, &container.StartError{Code: 126, Err: errors.New("permission denied")}, true)
	if st := got.State; st.ExitCode != 126 || st.Error != "permission denied" || st.MonitorPid != 0 || st.OOMKilled {
		t.Errorf("start error: %+v", st)
	}
	got = finishRecord(store, rec.ID, container.Exit{}, errors.New("network x not found"), true)
	if got.State.ExitCode != ExitRuntimeError {
		t.Errorf("berth's error: %+v", got.State)
	}
}

// TestRunOptions: a stored configuration becomes the spec's options with
// nothing looked up in the monitor's environment.
func TestRunOptions(t *testing.T) {
	t.Setenv("LEAK", "from-monitor")
	entry := "/bin/true"
	o := runOptions(&managed.Config{Cmd: []string{"x"}, Env: []string{"A=1", "LEAK"}, Entrypoint: &entry, Tty: true, NetworkMode: "host"})
	if !o.EntrypointSet || o.Entrypoint != "/bin/true" || !o.TTY || o.Network != "host" || !reflect.DeepEqual(o.Args, []string{"x"}) {
		t.Errorf("options: %+v", o)
	}
	env, err := spec.ExpandEnv(o.Env, o.LookupEnv)
	if err != nil || !reflect.DeepEqual(env, []string{"A=1"}) {
		t.Errorf("env %v, %v: want A=1 alone", env, err)
	}
	if o := runOptions(&managed.Config{}); o.EntrypointSet {
		t.Error("no --entrypoint, but EntrypointSet")
	}
}

// TestMountsCreatedAreRemovedUnlessKept: the host directories -v made for
// a run that never got going are removed again, deepest first; a run that
// started keeps them.
func TestMountsCreatedAreRemovedUnlessKept(t *testing.T) {
	base := t.TempDir()
	for _, keep := range []bool{false, true} {
		dir := filepath.Join(base, fmt.Sprint(keep), "a", "b")
		c := &containerMounts{}
		if err := c.mkdirAll(dir); err != nil {
			t.Fatal(err)
		}
		if !isDir(dir) {
			t.Fatalf("%s not made", dir)
		}
		if keep {
			c.keep()
		}
		if w := c.release(); len(w) != 0 {
			t.Errorf("warnings: %v", w)
		}
		if _, err := os.Stat(filepath.Join(base, fmt.Sprint(keep))); (err == nil) != keep {
			t.Errorf("keep=%v: made directories there: %v", keep, err == nil)
		}
	}
}

// TestShiftOwners: the copy driver's chown into a range moves mapped
// owners, leaves unmapped ones, and keeps setuid bits.
func TestShiftOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	tree := t.TempDir()
	file := filepath.Join(tree, "su")
	if err := os.WriteFile(file, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(file, 0o4755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(tree, "other")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, 70000, 70000); err != nil {
		t.Fatal(err)
	}
	ns := &managed.UserNS{UIDMap: []managed.IDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GIDMap: []managed.IDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}}
	if err := shiftOwners(tree, ns); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Lstat(file, &st)
	if st.Uid != 100000 || st.Gid != 200000 || st.Mode&unix.S_ISUID == 0 {
		t.Errorf("shifted file: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode)
	}
	unix.Lstat(other, &st)
	if st.Uid != 70000 || st.Gid != 70000 {
		t.Errorf("unmapped owner moved: %d:%d", st.Uid, st.Gid)
	}
	if id, ok := hostIDOf(ns.UIDMap, 65536); ok {
		t.Errorf("ID past the range mapped to %d", id)
	}
}

// TestCheck: an unknown storage driver is refused before anything is
// pulled or created.
func TestCheck(t *testing.T) {
	if err := New(Options{StorageDriver: "zfs"}).Check(); err == nil || !strings.Contains(err.Error(), "unknown storage driver") {
		t.Errorf("zfs: %v", err)
	}
	for _, d := range []string{"", "overlay", "vfs"} {
		if err := New(Options{StorageDriver: d}).Check(); err != nil {
			t.Errorf("%q: %v", d, err)
		}
	}
}

// TestEngineErrorsAreClassed: the engine's refusals and lookups say what
// they are with errdefs classes, which the command line (and any caller)
// decides by, never by their text.
func TestEngineErrorsAreClassed(t *testing.T) {
	e := New(Options{Root: t.TempDir(), Runroot: t.TempDir()})
	rec, owner, err := e.Create(managed.Config{Rootfs: "/", Cmd: []string{"true"}, NetworkMode: "none"}, CreateOptions{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Release()
	if _, err := e.Containers().Get("nosuch"); !errors.Is(err, errdefs.ErrNotFound) || !errors.Is(err, managed.ErrNotExist) {
		t.Errorf("missing container: %v", err)
	}
	if _, _, err := e.Create(managed.Config{Rootfs: "/", Cmd: []string{"true"}}, CreateOptions{Name: "web"}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("name in use: %v", err)
	}
	if _, _, err := e.Create(managed.Config{}, CreateOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("no image: %v", err)
	}
	for name, err := range map[string]error{
		"kill":  e.Kill(rec, unix.SIGTERM),
		"pause": e.Pause(rec),
		"exec":  func() error { _, err := e.Exec(rec, ExecOptions{Args: []string{"true"}}); return err }(),
	} {
		if !errors.Is(err, errdefs.ErrNotRunning) || !strings.Contains(err.Error(), "container web is not running") {
			t.Errorf("%s of a created container: %v, want ErrNotRunning", name, err)
		}
	}
	// Its lock is held, as by the berth running it.
	rec, err = e.Containers().Update(rec.ID, func(r *managed.Record) { r.State.Status = managed.Running })
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Remove(rec, false); !errors.Is(err, errdefs.ErrRunning) {
		t.Errorf("rm of a running container: %v, want ErrRunning", err)
	}
	if err := e.Start(rec); err != nil {
		t.Errorf("start of a running container (docker: nothing to do): %v", err)
	}
	if err := e.Unpause(rec); !errors.Is(err, errdefs.ErrRunning) {
		t.Errorf("unpause of a running container: %v, want ErrRunning", err)
	}
}

// TestCreateStored: berth create's container is Created, detached (berth
// start runs it under a monitor), and owned by nobody.
func TestCreateStored(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	rec, err := e.CreateStored(managed.Config{Rootfs: "/", Cmd: []string{"true"}}, CreateOptions{Name: "made"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Containers().Get("made")
	if err != nil || got.ID != rec.ID || got.State.Status != managed.Created || !got.Detached {
		t.Fatalf("stored: %+v, %v", got, err)
	}
	if managed.Held(e.ContainerDir(rec.ID)) {
		t.Error("the created container's lifetime lock is held")
	}
	if err := e.Remove(got, false); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "containers")); len(ents) != 2 { // .collect, .names
		t.Errorf("left after rm: %v", ents)
	}
}

// TestCreateStoredRefusesWhatStartWould: create refuses at once what the
// first start would (docker create does), and stores nothing.
func TestCreateStoredRefusesWhatStartWould(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	for _, tc := range []struct {
		cfg  managed.Config
		want string
	}{
		{managed.Config{Rootfs: "/", Cmd: []string{"true"}, Memory: "lots"}, "invalid --memory"},
		{managed.Config{Rootfs: "/", Cmd: []string{"true"}, CPUShares: 1}, "invalid --cpu-shares"},
		{managed.Config{Rootfs: "/"}, "no command given"},
		{managed.Config{Rootfs: "/nonexistent-rootfs", Cmd: []string{"true"}}, "does not exist"},
		{managed.Config{Rootfs: "/", Cmd: []string{"true"}, NetworkMode: "none", Ports: []string{"8080:80"}}, "--network none has none"},
		{managed.Config{Rootfs: "/", Cmd: []string{"true"}, NetworkMode: "bridge", Ports: []string{"8080-8081:80-82"}}, "invalid port mapping"},
	} {
		if _, err := e.CreateStored(tc.cfg, CreateOptions{Name: "bad"}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if recs := e.Containers().List(); len(recs) != 0 {
		t.Errorf("left behind: %+v", recs)
	}
	if _, err := e.CreateStored(managed.Config{Rootfs: "/", Cmd: []string{"true"}, NetworkMode: "container:other"}, CreateOptions{Name: "joins"}); err != nil {
		t.Errorf("--network container:NAME is resolved at start: %v", err)
	}
}

// TestVolumeKeptLooksAtOwnerFirst: an anonymous volume whose owner
// exists is kept without reading any record (an unreadable one is not
// noticed); one whose owner is gone is kept only while another container
// names it (--volumes-from).
func TestVolumeKeptLooksAtOwnerFirst(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	cfg := managed.Config{Rootfs: "/", Mounts: []spec.MountRequest{{Type: spec.MountVolume, Destination: "/cache"}}}
	rec, owner, err := e.Create(cfg, CreateOptions{Name: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	owner.Release()
	anon := anonymous(rec.ID, "/cache")
	// Every other container's record unreadable: VolumeRefs would skip
	// it, so an owner found by its record alone would not be kept.
	if err := os.WriteFile(filepath.Join(e.ContainerDir(rec.ID), "container.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !e.VolumeKept()(&volume.Volume{Name: anon, Anonymous: true, Owner: rec.ID}) {
		t.Error("the volume of an existing owner is not kept")
	}
	gone := &volume.Volume{Name: anonymous("gone", "/x"), Anonymous: true, Owner: "gone"}
	if e.VolumeKept()(gone) {
		t.Error("the volume of a gone owner, named by nobody, is kept")
	}
	user := managed.Config{Rootfs: "/", Mounts: []spec.MountRequest{{Type: spec.MountVolume, Source: gone.Name, Destination: "/x"}}}
	_, o2, err := e.Create(user, CreateOptions{Name: "user"})
	if err != nil {
		t.Fatal(err)
	}
	o2.Release()
	if !e.VolumeKept()(gone) {
		t.Error("the volume of a gone owner that another container names is not kept")
	}
}
