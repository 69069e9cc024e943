package integration

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// decimalBytes reads docker's sizes back: "300kB", "1.2MB", "0B".
func decimalBytes(t *testing.T, s string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^([0-9.]+)(B|kB|MB|GB)$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("not a size: %q", s)
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	scale := map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
	return int64(f * scale[m[2]])
}

// dfLine is one TYPE line of berth system df, as fields: total, active,
// size, reclaimable.
func dfLine(t *testing.T, out, typ string) (total, active int, size, reclaimable int64) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, typ+"  ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 4 {
			t.Fatalf("system df %s line: %q", typ, line)
		}
		total, _ = strconv.Atoi(f[0])
		active, _ = strconv.Atoi(f[1])
		return total, active, decimalBytes(t, f[2]), decimalBytes(t, f[3])
	}
	t.Fatalf("system df has no %s line:\n%s", typ, out)
	return
}

// TestSystemDfPrune: system df counts and sizes images, containers and
// volumes; system prune asks first, removes stopped containers, unused
// networks and dangling images and says what it freed; -a --volumes -f
// removes unused images and volumes too, without asking, and what
// running containers use stays.
func TestSystemDfPrune(t *testing.T) {
	needRoot(t)
	before := snapshot(t)
	reg := newTestRegistry(t)
	busy, app := reg.push(t, "test/dfbusy:1", busyboxImage(t)), reg.push(t, "test/dfapp:1", appImage(t))
	rmiQuiet(t, busy, app)
	for _, ref := range []string{busy, app} {
		if r := pull(t, "--tls-verify=false", ref); r.code != 0 {
			t.Fatalf("pull %s: %+v", ref, r)
		}
	}
	defer berth(t, "", "rm", "-f", "dfrun", "dfup", "dfanon")
	defer berth(t, "", "volume", "rm", "-f", "dfvol", "dflone")
	defer berth(t, "", "network", "rm", "dfnet")
	r := berth(t, "", "run", "--name", "dfrun", "-v", "dfvol:/data", busy, "/bin/sh", "-c", "head -c 300000 /dev/zero > /big; head -c 100000 /dev/zero > /data/f")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	if r := berth(t, "", "run", "-d", "--name", "dfup", busy, "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"); r.code != 0 {
		t.Fatalf("run -d: %+v", r)
	}
	for _, args := range [][]string{{"volume", "create", "dflone"}, {"network", "create", "dfnet"}} {
		if r := berth(t, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}

	r = berth(t, "", "system", "df")
	if r.code != 0 || !regexp.MustCompile(`^TYPE {12}TOTAL     ACTIVE    SIZE      RECLAIMABLE\n`).MatchString(r.stdout) {
		t.Fatalf("system df header: %+v", r)
	}
	if total, active, size, reclaim := dfLine(t, r.stdout, "Images"); total < 2 || active < 1 || size <= 0 || reclaim <= 0 || reclaim >= size {
		t.Errorf("Images: %d %d %d %d\n%s", total, active, size, reclaim, r.stdout)
	}
	if total, active, _, reclaim := dfLine(t, r.stdout, "Containers"); total < 2 || active < 1 || reclaim < 300000 {
		t.Errorf("Containers: %d %d %d (the stopped one wrote 300kB)\n%s", total, active, reclaim, r.stdout)
	}
	if total, active, size, _ := dfLine(t, r.stdout, "Local Volumes"); total < 2 || active < 1 || size < 100000 {
		t.Errorf("Local Volumes: %d %d %d\n%s", total, active, size, r.stdout)
	}
	if !strings.Contains(r.stdout, "\nBuild Cache ") {
		t.Errorf("no Build Cache line:\n%s", r.stdout)
	}
	r = berth(t, "", "system", "df", "-v")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Images space usage:$`), regexp.MustCompile(`(?m)^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS$`),
		regexp.MustCompile(`(?m)/test/dfbusy +1 +.* 2$`), regexp.MustCompile(`(?m)/test/dfapp +1 +.* 0$`),
		regexp.MustCompile(`(?m)^CONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES$`),
		regexp.MustCompile(`(?m) 1 +30\d(\.\d+)?kB +.* dfrun$`),
		regexp.MustCompile(`(?m)^VOLUME NAME +LINKS +SIZE$`), regexp.MustCompile(`(?m)^dfvol +1 +100kB$`), regexp.MustCompile(`(?m)^dflone +0 +0B$`),
		regexp.MustCompile(`(?m)^Build cache usage: \d+(\.\d+)?[kMG]?B$`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("system df -v lacks %s:\n%s", want, r.stdout)
		}
	}

	// Asked, and declined: nothing goes.
	r = berth(t, "n\n", "system", "prune")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n\nAre you sure you want to continue? [y/N] ") {
		t.Errorf("declined prune: %+v", r)
	}
	if r := berth(t, "", "ps", "-aq", "--filter", "name=dfrun"); r.stdout == "" {
		t.Fatal("a declined prune removed the stopped container")
	}
	var inspected []struct{ Id string }
	if err := json.Unmarshal([]byte(berth(t, "", "inspect", "dfrun").stdout), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("inspect dfrun: %v", err)
	}
	runID := inspected[0].Id
	r = berth(t, "y\n", "system", "prune")
	if r.code != 0 || !strings.Contains(r.stdout, "Deleted Containers:\n") || !strings.Contains(r.stdout, "Deleted Networks:\n") || !strings.Contains(r.stdout, "\ndfnet\n") {
		t.Errorf("prune: %+v", r)
	}
	if !strings.Contains(r.stdout, "\n"+runID+"\n") {
		t.Errorf("prune did not name the stopped container: %s", r.stdout)
	}
	m := regexp.MustCompile(`(?m)^Total reclaimed space: (\S+)$`).FindStringSubmatch(r.stdout)
	if m == nil || decimalBytes(t, m[1]) < 300000 {
		t.Errorf("reclaimed space: %q", r.stdout)
	}
	if r := berth(t, "", "ps", "-a", "--format", "{{.Names}}"); strings.Contains(r.stdout, "dfrun") || !strings.Contains(r.stdout, "dfup") {
		t.Errorf("after prune, containers: %q", r.stdout)
	}
	if imageID(t, app) == "" {
		t.Error("prune without -a removed a tagged image")
	}
	if r := berth(t, "", "volume", "ls", "-q"); !strings.Contains(r.stdout, "dflone") || !strings.Contains(r.stdout, "dfvol") {
		t.Errorf("prune without --volumes removed volumes: %q", r.stdout)
	}

	// --volumes takes anonymous volumes only, as Docker 23's.
	r = berth(t, "", "run", "--name", "dfanon", "-v", "/scratch", busy, "true")
	if r.code != 0 {
		t.Fatalf("run with an anonymous volume: %+v", r)
	}
	r = berth(t, "", "system", "prune", "-a", "--volumes", "-f")
	if r.code != 0 || strings.Contains(r.stderr, "Are you sure") || !strings.Contains(r.stdout, "Deleted Volumes:\n") ||
		!regexp.MustCompile(`Deleted Volumes:\n[0-9a-f]{64}\n\n`).MatchString(r.stdout) || !strings.Contains(r.stdout, "Deleted Images:\nuntagged: ") {
		t.Errorf("prune -a --volumes -f: %+v", r)
	}
	if r := berth(t, "", "volume", "ls", "-q"); !strings.Contains(r.stdout, "dflone") || !strings.Contains(r.stdout, "dfvol") {
		t.Errorf("system prune --volumes removed named volumes: %q", r.stdout)
	}
	if imageID(t, app) != "" || imageID(t, busy) == "" {
		t.Errorf("prune -a: the unused image must go, the running container's stay")
	}
	if r := berth(t, "", "ps", "-q", "--filter", "name=dfup"); r.stdout == "" {
		t.Error("prune touched the running container")
	}
	if r := berth(t, "", "rm", "-f", "dfup"); r.code != 0 {
		t.Errorf("rm -f: %+v", r)
	}
	checkNoLeaks(t, before)
}
