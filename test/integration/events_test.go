package integration

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEvents: the commands of a run -d / stop / rm sequence leave Docker's
// events in the journal, which berth events shows in order with --since
// and --until (then it ends), filters and templates; following, it sees a
// new event, and ctrl-c ends it quietly.
func TestEvents(t *testing.T) {
	needRoot(t)
	berth(t, "", "rm", "-f", "ev")
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	mustBerth(t, "run", "-d", "--name", "ev", "-l", "tier=x", "--rootfs", rootfsDir, "sleep", "60")
	mustBerth(t, "stop", "-t", "0", "ev")
	mustBerth(t, "rm", "ev")
	until := fmt.Sprintf("%d.%09d", time.Now().Unix(), time.Now().Nanosecond())

	ev := func(args ...string) string {
		t.Helper()
		return mustBerth(t, append([]string{"events", "--since", since, "--until", until}, args...)...)
	}
	got := ev("--filter", "container=ev", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
	want := "container create ev\ncontainer start ev\ncontainer kill ev\ncontainer die ev\ncontainer stop ev\ncontainer destroy ev\n"
	if got != want {
		t.Errorf("events of run/stop/rm:\n%s\nwant\n%s", got, want)
	}
	if got := ev("--filter", "event=die", "--filter", "label=tier=x", "--format", "{{.Actor.Attributes.exitCode}} {{.Actor.Attributes.image}}"); got != "137 "+rootfsDir+"\n" {
		t.Errorf("die's exit code: %q", got)
	}
	if got := ev("--filter", "event=kill", "--filter", "container=ev", "--format", "{{.Actor.Attributes.signal}}"); got != "9\n" {
		t.Errorf("kill's signal: %q", got)
	}
	if got := ev("--filter", "type=container", "--filter", "event=start", "--filter", "event=destroy", "--filter", "container=ev", "--format", "json"); strings.Count(got, "\n") != 2 ||
		!strings.Contains(got, `"Type":"container","Action":"start","Actor":{"ID":"`) || !strings.Contains(got, `"timeNano":`) {
		t.Errorf("json: %q", got)
	}
	if got := ev("--filter", "container=ev", "--filter", "type=volume"); got != "" {
		t.Errorf("type=volume of a container: %q", got)
	}
	// The default line: time, type, action, ID, attributes.
	if got := ev("--filter", "container=ev", "--filter", "event=create"); !strings.Contains(got, " container create ") || !strings.Contains(got, "(image="+rootfsDir+", name=ev, tier=x)") {
		t.Errorf("default line: %q", got)
	}

	// Bad input: one line, 125.
	for _, args := range [][]string{{"--since", "yesterday"}, {"--filter", "colour=red"}, {"--format", "{{.Action"}} {
		if r := berth(t, "", append([]string{"events"}, args...)...); r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("events %v: %+v", args, r)
		}
	}

	// Following: a new event shows; ctrl-c ends it, status 0.
	berth(t, "", "rm", "-f", "ev2")
	defer berth(t, "", "rm", "-f", "ev2")
	cmd := berthCommand("events", "--since", since, "--filter", "container=ev2", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	mustBerth(t, "create", "--name", "ev2", "--rootfs", rootfsDir, "true")
	select {
	case l := <-lines:
		if l != "create ev2" {
			t.Errorf("followed: %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("berth events did not show the new container's create within 10s")
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("events after ctrl-c: %v", err)
	}
}

// TestEventsForegroundRm: a foreground --rm run whose program is done at
// once still records its events in order: its start (written beside the
// wait for the program) before its die and destroy.
func TestEventsForegroundRm(t *testing.T) {
	needRoot(t)
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	for range 3 {
		mustBerth(t, "run", "--rm", "--name", "evfg", "--network", "none", "--rootfs", rootfsDir, "true")
	}
	until := fmt.Sprintf("%d.%09d", time.Now().Unix(), time.Now().Nanosecond())
	got := mustBerth(t, "events", "--since", since, "--until", until, "--filter", "container=evfg", "--format", "{{.Action}}")
	want := strings.Repeat("create\nstart\ndie\ndestroy\n", 3)
	if got != want {
		t.Errorf("events of three run --rm true:\n%s\nwant\n%s", got, want)
	}
}

// TestEventsObjects: image, volume and network commands leave Docker's
// events too.
func TestEventsObjects(t *testing.T) {
	needRoot(t)
	now := time.Now()
	since := fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond())
	img := cpImage(t)
	mustBerth(t, "tag", img, "ev-tag:1")
	mustBerth(t, "rmi", "ev-tag:1")
	mustBerth(t, "volume", "create", "ev-vol")
	mustBerth(t, "volume", "rm", "ev-vol")
	defer berth(t, "", "network", "rm", "ev-net")
	mustBerth(t, "network", "create", "ev-net")
	mustBerth(t, "network", "rm", "ev-net")
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	got := mustBerth(t, "events", "--since", since, "--until", until, "--filter", "type=image", "--filter", "type=volume", "--filter", "type=network",
		"--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
	want := "image import " + img + "\nimage tag ev-tag:1\nimage untag ev-tag:1\nvolume create <no value>\nvolume destroy <no value>\nnetwork create ev-net\nnetwork destroy ev-net\n"
	if got != want {
		t.Errorf("events:\n%s\nwant\n%s", got, want)
	}
	if got := mustBerth(t, "events", "--since", since, "--until", until, "--filter", "volume=ev-vol", "--format", "{{.Actor.ID}} {{.Actor.Attributes.driver}}"); got != "ev-vol local\nev-vol local\n" {
		t.Errorf("volume=ev-vol: %q", got)
	}
}

// TestEventsHealthStatus: a health check's verdict is Docker's
// "health_status: healthy" event; --until in the future ends the follow.
func TestEventsHealthStatus(t *testing.T) {
	needRoot(t)
	berth(t, "", "rm", "-f", "ev-health")
	defer berth(t, "", "rm", "-f", "ev-health")
	now := time.Now()
	since := fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond())
	mustBerth(t, "run", "-d", "--name", "ev-health", "--health-cmd", "true", "--health-interval", "200ms", "--rootfs", rootfsDir, "sleep", "60")
	until := strconv.FormatInt(time.Now().Add(4*time.Second).Unix(), 10)
	got := mustBerth(t, "events", "--since", since, "--until", until, "--filter", "container=ev-health", "--filter", "event=health_status", "--format", "{{.Action}}")
	if !strings.HasPrefix(got, "health_status: healthy\n") {
		t.Errorf("health events: %q", got)
	}
}
