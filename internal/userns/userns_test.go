package userns

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestParse(t *testing.T) {
	good := []struct {
		userns     string
		uids, gids []string
		want       Mode
	}{
		{"", nil, nil, Mode{Kind: Host}},
		{"host", nil, nil, Mode{Kind: Host}},
		{"auto", nil, nil, Mode{Kind: Auto, Size: 65536}},
		{"auto:size=1024", nil, nil, Mode{Kind: Auto, Size: 1024}},
		{"keep-id", nil, nil, Mode{Kind: KeepID, Size: 65536}},
		{"nomap", nil, nil, Mode{Kind: NoMap, Size: 65536}},
		{"", []string{"0:100000:65536"}, nil, Mode{Kind: Explicit, UIDs: []Range{{0, 100000, 65536}}, GIDs: []Range{{0, 100000, 65536}}}},
		{"", []string{"0:100000:1000", "1000:1000:1"}, []string{"0:200000:10"}, Mode{Kind: Explicit,
			UIDs: []Range{{0, 100000, 1000}, {1000, 1000, 1}}, GIDs: []Range{{0, 200000, 10}}}},
	}
	for _, c := range good {
		got, err := Parse(c.userns, c.uids, c.gids)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q, %q, %q) = %+v, %v; want %+v", c.userns, c.uids, c.gids, got, err, c.want)
		}
	}
	bad := []struct {
		userns     string
		uids, gids []string
		says       string
	}{
		{"bogus", nil, nil, "use host, auto"},
		{"auto:size=0", nil, nil, "size must be"},
		{"auto:size=4294967296", nil, nil, "size must be"},
		{"auto:size=x", nil, nil, "size must be"},
		{"auto:uidmapping=0:1:2", nil, nil, "unknown option"},
		{"host:x", nil, nil, "no options"},
		{"keep-id:uid=1", nil, nil, "not supported"},
		{"auto", []string{"0:100000:10"}, nil, "conflict"},
		{"", []string{"0:100000"}, nil, "CONTAINER-ID:HOST-ID:SIZE"},
		{"", []string{"0:100000:0"}, nil, "size must be at least 1"},
		{"", []string{"0:4294967295:2"}, nil, "below"},
		{"", []string{"-1:100000:10"}, nil, "is not an ID"},
		{"", []string{"0:100000:100", "50:300000:10"}, nil, "overlap inside the container"},
		{"", []string{"0:100000:100", "200:100050:10"}, nil, "overlap on the host"},
		{"", nil, []string{"0:1:10", "5:100:1"}, "--gidmap"},
	}
	for _, c := range bad {
		_, err := Parse(c.userns, c.uids, c.gids)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Parse(%q, %q, %q) = %v; want ErrInvalid saying %q", c.userns, c.uids, c.gids, err, c.says)
		}
	}
}

func TestKeepIDMap(t *testing.T) {
	cases := []struct {
		id, base, size uint32
		want           []Range
	}{
		{0, 1000, 10, []Range{{0, 0, 1}, {1, 1000, 9}}},
		{3, 1000, 10, []Range{{0, 1000, 3}, {3, 3, 1}, {4, 1003, 6}}},
		{9, 1000, 10, []Range{{0, 1000, 9}, {9, 9, 1}}},
		{50, 1000, 10, []Range{{0, 1000, 10}, {50, 50, 1}}},
	}
	for _, c := range cases {
		if got := KeepIDMap(c.id, c.base, c.size); !reflect.DeepEqual(got, c.want) {
			t.Errorf("KeepIDMap(%d, %d, %d) = %v, want %v", c.id, c.base, c.size, got, c.want)
		}
	}
}

func TestEnsureSpans(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "subuid")
	// A line overlapping berth's usual start pushes it up; the file's
	// last line has no newline.
	if err := os.WriteFile(path, []byte("alice:100000:65536\nbob:1073741824:131072"), 0o644); err != nil {
		t.Fatal(err)
	}
	spans, err := EnsureSpans(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Span{1073741824 + 131072, 1<<31 - (1073741824 + 131072)} // shrunk to end at 2^31
	if len(spans) != 1 || spans[0] != want {
		t.Fatalf("spans %v, want %v", spans, want)
	}
	b, _ := os.ReadFile(path)
	if got := string(b); got != "alice:100000:65536\nbob:1073741824:131072\nberth:1073872896:1073610752\n" {
		t.Fatalf("file now:\n%s", got)
	}
	// Found again, not added twice.
	if again, err := EnsureSpans(path); err != nil || !reflect.DeepEqual(again, spans) {
		t.Fatalf("second call: %v, %v", again, err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Fatal("second call changed the file")
	}
	// A missing file is created with berth's line.
	fresh := filepath.Join(dir, "fresh")
	if spans, err := EnsureSpans(fresh); err != nil || spans[0] != (Span{1 << 30, 1 << 30}) {
		t.Fatalf("fresh file: %v, %v", spans, err)
	}
}

func TestFreeSpanFull(t *testing.T) {
	lines := []subidLine{{"x", Span{0, 4294967295}}}
	if _, err := freeSpan(lines); err == nil {
		t.Fatal("a file covering every ID left room for berth")
	}
}

func newPool(t *testing.T, subuid, subgid string) Pool {
	dir := t.TempDir()
	p := Pool{Dir: filepath.Join(dir, "state"), SubUID: filepath.Join(dir, "subuid"), SubGID: filepath.Join(dir, "subgid")}
	if err := os.WriteFile(p.SubUID, []byte(subuid), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.SubGID, []byte(subgid), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAllocateDisjointAndReused(t *testing.T) {
	p := newPool(t, "berth:100000:150000\n", "berth:500000:150000\n")
	all := func(string) bool { return true }
	a, err := p.Allocate("a", 65536, all)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Allocate("b", 65536, all)
	if err != nil {
		t.Fatal(err)
	}
	if a != (Allocation{100000, 500000, 65536}) || b != (Allocation{165536, 565536, 65536}) {
		t.Fatalf("a %+v, b %+v", a, b)
	}
	if again, _ := p.Allocate("a", 10, all); again != a {
		t.Fatalf("a asked again: %+v, want its range %+v", again, a)
	}
	if _, err := p.Allocate("c", 65536, all); !errors.Is(err, ErrFull) {
		t.Fatalf("third range of 65536 in 150000 IDs: %v, want ErrFull", err)
	}
	// A small one still fits in what is left.
	if c, err := p.Allocate("c", 1000, all); err != nil || c.UID != 231072 {
		t.Fatalf("small range: %+v, %v", c, err)
	}
	if err := p.Release("a"); err != nil {
		t.Fatal(err)
	}
	if d, err := p.Allocate("d", 65536, all); err != nil || d != a {
		t.Fatalf("after a's release: %+v, %v; want a's old range %+v", d, err, a)
	}
}

func TestAllocateReclaimsDeadOwners(t *testing.T) {
	p := newPool(t, "berth:100000:65536\n", "berth:100000:65536\n")
	if _, err := p.Allocate("killed", 65536, nil); err != nil {
		t.Fatal(err)
	}
	alive := func(o string) bool { return o != "killed" }
	if _, err := p.Allocate("next", 65536, alive); err != nil {
		t.Fatalf("the dead owner's range was not reclaimed: %v", err)
	}
	if err := p.Collect(func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if owners, err := p.Owners(); err != nil || len(owners) != 0 {
		t.Fatalf("after Collect: %v, %v", owners, err)
	}
}

func TestCollectWithoutState(t *testing.T) {
	p := Pool{Dir: filepath.Join(t.TempDir(), "none")}
	if err := p.Collect(func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if err := p.Release("x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Fatal("Collect created the state directory")
	}
}

func TestAllocateAddsBerthLine(t *testing.T) {
	p := newPool(t, "alice:100000:65536\n", "")
	a, err := p.Allocate("x", 65536, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.UID != 1<<30 || a.GID != 1<<30 {
		t.Fatalf("%+v", a)
	}
	for _, f := range []string{p.SubUID, p.SubGID} {
		if b, _ := os.ReadFile(f); !strings.Contains(string(b), "berth:1073741824:1073741824\n") {
			t.Errorf("%s: %q", f, b)
		}
	}
}

func TestCorruptStateRefused(t *testing.T) {
	p := newPool(t, "berth:100000:200000\n", "berth:100000:200000\n")
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	overlap := `{"version":1,"allocations":{"a":{"uid":100000,"gid":100000,"size":10},"b":{"uid":100005,"gid":200000,"size":10}}}`
	if err := os.WriteFile(filepath.Join(p.Dir, stateName), []byte(overlap), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Allocate("c", 10, nil); err == nil || !strings.Contains(err.Error(), "share IDs") {
		t.Fatalf("overlapping state: %v", err)
	}
}

func TestAllocateConcurrent(t *testing.T) {
	p := newPool(t, "berth:100000:6553600\n", "berth:100000:6553600\n")
	var wg sync.WaitGroup
	got := make([]Allocation, 40)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := p.Allocate(string(rune('A'+i)), 65536, nil)
			if err != nil {
				t.Error(err)
			}
			got[i] = a
		}()
	}
	wg.Wait()
	for i, a := range got {
		for _, b := range got[:i] {
			if overlaps(a.UID, a.Size, b.UID, b.Size) {
				t.Fatalf("%+v and %+v overlap", a, b)
			}
		}
	}
}
