package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCreateSaveRemove(t *testing.T) {
	s := Store{Root: t.TempDir()}
	rec := Record{ID: "abc", Name: "web", Status: Creating}
	h, err := s.Create(rec)
	if err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.Pid = Running, 42
	if err := h.Save(rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load("abc")
	if err != nil || got.Pid != 42 || got.Status != Running {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if _, err := s.Create(Record{ID: "abc"}); !errors.Is(err, ErrExists) {
		t.Errorf("second create with the same ID: %v, want ErrExists", err)
	}
	if _, err := s.Create(Record{ID: "other", Name: "web"}); err == nil {
		t.Error("second container named web was accepted")
	}
	if err := h.Remove(s, rec); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.Root)
	names, _ := os.ReadDir(filepath.Join(s.Root, "names"))
	if len(entries) != 1 || len(names) != 0 {
		t.Errorf("left after Remove: %v, names %v", entries, names)
	}
}

// created makes record id as berth-oci create leaves it: saved as
// created (so kept), its owner's handle returned.
func created(t *testing.T, s Store, id string) *Handle {
	t.Helper()
	h, err := s.Create(Record{ID: id, Status: Creating})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(Record{ID: id, Status: Created}); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCollectPassesIndexedKeptRecords: a kept record in the index is not
// looked at by collection at all, not even its kept marker: with the
// marker gone and the record damaged, it would otherwise be removed.
func TestCollectPassesIndexedKeptRecords(t *testing.T) {
	s := Store{Root: t.TempDir()}
	created(t, s, "kept1").Release()
	os.Remove(filepath.Join(s.Root, "kept1", keptMarker))
	os.WriteFile(filepath.Join(s.Root, "kept1", "state.json"), []byte("{damaged"), 0o600)
	s.Collect(func(Record) error { t.Error("cleanup ran for a kept record"); return nil })
	if _, err := os.Stat(filepath.Join(s.Root, "kept1")); err != nil {
		t.Errorf("kept record collected: %v", err)
	}
}

// TestKeptIndexVouchesForNoOtherRecord: an ID removed while kept is
// collected as any other once a new record of that ID has lost its owner,
// and an index entry whose record was removed by hand is dropped.
func TestKeptIndexVouchesForNoOtherRecord(t *testing.T) {
	s := Store{Root: t.TempDir()}
	if err := created(t, s, "reused").Remove(s, Record{ID: "reused"}); err != nil {
		t.Fatal(err)
	}
	ephemeral := func(id string) {
		t.Helper()
		h, err := s.Create(Record{ID: id, Ephemeral: true})
		if err != nil {
			t.Fatal(err)
		}
		h.Release() // its owner is gone
	}
	ephemeral("reused")
	var cleaned []string
	s.Collect(func(r Record) error { cleaned = append(cleaned, r.ID); return nil })
	if strings.Join(cleaned, " ") != "reused" {
		t.Errorf("collected %v, want the new record of a removed kept one's ID", cleaned)
	}
	if _, err := os.Stat(filepath.Join(s.Root, keptIndex)); !os.IsNotExist(err) {
		t.Errorf("the index is left with no kept record: %v", err)
	}
	os.Mkdir(filepath.Join(s.Root, keptIndex), 0o700)
	if err := os.WriteFile(filepath.Join(s.Root, keptIndex, "byhand"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(Record) error { return nil })
	if _, err := os.Stat(filepath.Join(s.Root, keptIndex, "byhand")); !os.IsNotExist(err) {
		t.Errorf("an index entry without its record is left: %v", err)
	}
	ephemeral("byhand")
	cleaned = nil
	s.Collect(func(r Record) error { cleaned = append(cleaned, r.ID); return nil })
	if strings.Join(cleaned, " ") != "byhand" {
		t.Errorf("collected %v, want byhand", cleaned)
	}
}

// TestParseDirents: the kernel's listing, parsed as os.ReadDir would name
// it, and a damaged record length ends the parse instead of reading on.
func TestParseDirents(t *testing.T) {
	var buf []byte
	add := func(name string, typ byte, reclen int) {
		rec := make([]byte, reclen)
		binary.NativeEndian.PutUint16(rec[16:18], uint16(reclen))
		rec[18] = typ
		copy(rec[19:], name)
		buf = append(buf, rec...)
	}
	add(".", unix.DT_DIR, 24)
	add("..", unix.DT_DIR, 24)
	add("abc", unix.DT_DIR, 24)
	add(".kept", unix.DT_DIR, 32)
	add("file", unix.DT_REG, 24)
	add("unknown", unix.DT_UNKNOWN, 32)
	got := parseDirents(buf, nil)
	want := []dirent{{"abc", true}, {".kept", true}, {"file", false}, {"unknown", true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parsed %v, want %v", got, want)
	}
	bad := append(append([]byte(nil), buf[:24]...), make([]byte, 24)...)
	binary.NativeEndian.PutUint16(bad[24+16:24+18], 200) // longer than the buffer
	if got := parseDirents(bad, nil); len(got) != 0 {
		t.Errorf("a damaged buffer parsed as %v", got)
	}
}

func TestCollectSkipsLiveOwners(t *testing.T) {
	s := Store{Root: t.TempDir()}
	h, err := s.Create(Record{ID: "live", Name: "n", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	called := 0
	s.Collect(func(Record) error { called++; return nil })
	if called != 0 {
		t.Fatal("Collect cleaned up a record whose owner holds its lock")
	}
	h.lock.Close() // the owner dies
	var cleaned []string
	s.Collect(func(r Record) error { cleaned = append(cleaned, r.ID); return nil })
	if len(cleaned) != 1 || cleaned[0] != "live" {
		t.Fatalf("Collect cleaned %v, want [live]", cleaned)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "live")); !os.IsNotExist(err) {
		t.Error("record still on disk after collection")
	}
	if _, err := os.Lstat(filepath.Join(s.Root, "names", "n")); !os.IsNotExist(err) {
		t.Error("name still claimed after collection")
	}
}

func TestCollectKeepsRecordWhoseCleanupFails(t *testing.T) {
	s := Store{Root: t.TempDir()}
	h, err := s.Create(Record{ID: "busy", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	h.lock.Close()
	s.Collect(func(Record) error { return errors.New("cgroup busy") })
	if _, err := s.Load("busy"); err != nil {
		t.Fatalf("record dropped although its cleanup failed: %v", err)
	}
}

// TestLockDiesWithOwner checks the property Collect relies on: a lock held
// by a process is released when that process is killed.
func TestLockDiesWithOwner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lock")
	os.WriteFile(path, nil, 0o600)
	// flock(1) and the sleep it runs share the lock; both are killed, as
	// one process group.
	cmd := exec.Command("flock", path, "sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skip("flock(1) not available:", err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := lockFile(path, false)
		if err != nil {
			break // the child holds it
		}
		f.Close()
		if time.Now().After(deadline) {
			t.Fatal("child never took the lock")
		}
		time.Sleep(time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	// The sleep is reaped by init, a moment after flock(1) itself.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		f, err := lockFile(path, false)
		if err == nil {
			f.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock not released after its owner was killed: %v", err)
		}
	}
}

func TestCollectKeepsPersistentRecords(t *testing.T) {
	s := Store{Root: t.TempDir()}
	for _, rec := range []Record{{ID: "created", Status: Created}, {ID: "half", Status: Creating}} {
		h, err := s.Create(rec)
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
	}
	var cleaned []string
	s.Collect(func(r Record) error { cleaned = append(cleaned, r.ID); return nil })
	if len(cleaned) != 1 || cleaned[0] != "half" {
		t.Errorf("collected %v: want only the creation that never finished", cleaned)
	}
	if _, err := s.Load("created"); err != nil {
		t.Errorf("an OCI container's record was collected before delete: %v", err)
	}
	if _, err := s.Create(Record{ID: "../escape"}); err == nil {
		t.Error("an ID with a path separator was accepted")
	}
}

func TestFindByNameIDAndPrefix(t *testing.T) {
	s := Store{Root: t.TempDir()}
	for _, rec := range []Record{{ID: "abc123", Name: "web"}, {ID: "abd456"}} {
		h, err := s.Create(rec)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
	}
	for ref, want := range map[string]string{"web": "abc123", "abc123": "abc123", "abc": "abc123", "abd": "abd456"} {
		if rec, err := s.Find(ref); err != nil || rec.ID != want {
			t.Errorf("Find(%q) = %q, %v; want %q", ref, rec.ID, err, want)
		}
	}
	if _, err := s.Find("ab"); err == nil || !strings.Contains(err.Error(), "fits 2 containers") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	for _, ref := range []string{"zzz", "", "../x"} {
		if _, err := s.Find(ref); !errors.Is(err, ErrNotExist) {
			t.Errorf("Find(%q): %v, want ErrNotExist", ref, err)
		}
	}
}

// TestCollectReleasesNameOfAbandonedCreation: a creator killed after it
// claimed a name but before its record was in place leaves a temporary
// directory and the name; once both are old, collection frees the name.
func TestCollectReleasesNameOfAbandonedCreation(t *testing.T) {
	s := Store{Root: t.TempDir()}
	tmp := filepath.Join(s.Root, ".new-123")
	os.MkdirAll(tmp, 0o700)
	if err := s.claimName(Record{ID: "ghost", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(Record) error { return nil })
	if _, err := os.Lstat(filepath.Join(s.Root, "names", "web")); err != nil {
		t.Fatal("a name claimed moments ago was taken from a creation that may still be running")
	}
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(tmp, old, old)
	ts := []unix.Timeval{unix.NsecToTimeval(old.UnixNano()), unix.NsecToTimeval(old.UnixNano())}
	if err := unix.Lutimes(filepath.Join(s.Root, "names", "web"), ts); err != nil {
		t.Fatal(err)
	}
	s.Collect(func(Record) error { return nil })
	if _, err := os.Lstat(filepath.Join(s.Root, "names", "web")); !os.IsNotExist(err) {
		t.Error("the abandoned creation's name is still claimed")
	}
	if _, err := s.Create(Record{ID: "real", Name: "web"}); err != nil {
		t.Errorf("name not usable again: %v", err)
	}
}

// TestCollectPassesKeptRecordsUnread: once saved as created, a kept record
// is not even read by collection (a damaged one would otherwise go), also
// when the kept index misses it (a record kept by an older berth): its
// kept marker is enough.
func TestCollectPassesKeptRecordsUnread(t *testing.T) {
	s := Store{Root: t.TempDir()}
	created(t, s, "kept1").Release()
	if err := os.RemoveAll(filepath.Join(s.Root, keptIndex)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.Root, "kept1", "state.json"), []byte("{damaged"), 0o600)
	s.Collect(func(Record) error { t.Error("cleanup ran for a kept record"); return nil })
	if _, err := os.Stat(filepath.Join(s.Root, "kept1")); err != nil {
		t.Errorf("kept record collected: %v", err)
	}
}

// TestCollectInterruptedRemovals: a removal killed half-way leaves either
// a ".rm-" directory (Remove renames first) or, from an older berth whose
// os.RemoveAll deleted the lock and state first, a record directory with
// only its config.json; both are collected at once.
func TestCollectInterruptedRemovals(t *testing.T) {
	s := Store{Root: t.TempDir()}
	for _, dir := range []string{"lockless", ".rm-half"} {
		if err := os.MkdirAll(filepath.Join(s.Root, dir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.Root, dir, "config.json"), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.Collect(func(Record) error { t.Error("cleanup ran for a directory without a record"); return nil })
	if entries, _ := os.ReadDir(s.Root); len(entries) != 0 {
		t.Errorf("left after collection: %v", entries)
	}
}

// TestRemoveAgainAfterInterruptedRemoval: an ID whose removal was killed
// (berth-oci IDs are reused) can be created and removed again.
func TestRemoveAgainAfterInterruptedRemoval(t *testing.T) {
	s := Store{Root: t.TempDir()}
	os.MkdirAll(filepath.Join(s.Root, ".rm-again", "sub"), 0o700)
	h, err := s.Create(Record{ID: "again"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Remove(s, Record{ID: "again"}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(s.Root); len(entries) != 0 {
		t.Errorf("left after Remove: %v", entries)
	}
}

// TestCollectCreationOfDeadCreator: a temporary record whose creator has
// exited is collected at once, not after a minute; a live creator's is
// left alone.
func TestCollectCreationOfDeadCreator(t *testing.T) {
	s := Store{Root: t.TempDir()}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{dead.Process.Pid, os.Getpid()} {
		dir := filepath.Join(s.Root, fmt.Sprintf(".new-%d-42", pid))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "lock"), nil, 0o600)
	}
	s.Collect(func(Record) error { return nil })
	entries, _ := os.ReadDir(s.Root)
	if len(entries) != 1 || entries[0].Name() != fmt.Sprintf(".new-%d-42", os.Getpid()) {
		t.Errorf("after collection: %v, want only the live creator's", entries)
	}
}
