package integration

import (
	"strconv"
	"strings"
	"testing"
)

// TestInspectFormat: inspect -f runs a Go template over Docker's field
// names (container, volume, network), with docker's functions; inspect
// finds volumes and networks too; a bad template is one line, exit 125.
func TestInspectFormat(t *testing.T) {
	needRoot(t)
	berth(t, "", "rm", "-f", "insp")
	defer berth(t, "", "volume", "rm", "-f", "insp-vol")
	defer berth(t, "", "rm", "-f", "insp")
	id := strings.TrimSpace(mustBerth(t, "run", "-d", "--name", "insp", "-l", "tier=web", "-e", "GREETING=hi",
		"-v", "insp-vol:/data", "--restart", "on-failure:3", "--rootfs", rootfsDir, "sleep", "60"))

	tmpl := `{{.State.Status}} {{.Name}} {{.State.Running}} {{.State.Paused}} {{index .Config.Labels "tier"}} {{json .Config.Cmd}} {{.Path}} {{join .Args ","}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{upper "x"}} {{.Id}}`
	want := "running /insp true false web [\"sleep\",\"60\"] sleep 60 on-failure:3 X " + id + "\n"
	if got := mustBerth(t, "inspect", "-f", tmpl, "insp"); got != want {
		t.Errorf("inspect -f:\n got %q\nwant %q", got, want)
	}
	if got := mustBerth(t, "container", "inspect", "--format", `{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{end}}`, "insp"); got != "volume insp-vol /data true\n" {
		t.Errorf("Mounts: %q", got)
	}
	if got := mustBerth(t, "inspect", "-f", `{{range .Config.Env}}{{if eq . "GREETING=hi"}}found{{end}}{{end}} {{gt .State.Pid 1}}`, "insp"); got != "found true\n" {
		t.Errorf("Env, Pid: %q", got)
	}
	// -s: the writable layer and the whole.
	sizes := strings.Fields(mustBerth(t, "inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "insp"))
	if len(sizes) != 2 {
		t.Fatalf("inspect -s: %q", sizes)
	}
	if _, err := strconv.ParseInt(sizes[0], 10, 64); err != nil {
		t.Errorf("SizeRw %q", sizes[0])
	}
	if r := berth(t, "", "inspect", "-f", "{{.SizeRw}}", "insp"); r.stdout != "<nil>\n" {
		t.Errorf("SizeRw without -s: %+v", r)
	}

	// Volumes and networks: by their own command and by inspect.
	if got := mustBerth(t, "volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}}", "insp-vol"); got != "insp-vol local local\n" {
		t.Errorf("volume inspect -f: %q", got)
	}
	if got := mustBerth(t, "inspect", "-f", "{{.Mountpoint}}", "insp-vol"); !strings.HasSuffix(got, "/_data\n") && !strings.Contains(got, "insp-vol") {
		t.Errorf("inspect of a volume: %q", got)
	}
	if got := mustBerth(t, "network", "inspect", "-f", "{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}", "bridge"); !strings.HasPrefix(got, "bridge bridge ") || !strings.Contains(got, "/") {
		t.Errorf("network inspect -f: %q", got)
	}
	if got := mustBerth(t, "inspect", "--type", "network", "-f", "{{.Scope}}", "bridge"); got != "local\n" {
		t.Errorf("inspect --type network: %q", got)
	}

	// Images: Docker's RepoTags, RootFS, Os; found by inspect too.
	img := cpImage(t)
	if got := mustBerth(t, "image", "inspect", "-f", "{{index .RepoTags 0}} {{.RootFS.Type}} {{len .RootFS.Layers}} {{.Os}}", img); got != img+" layers 1 linux\n" {
		t.Errorf("image inspect -f: %q", got)
	}
	if got := mustBerth(t, "inspect", "--type", "image", "-f", "{{.Id}}", img); !strings.HasPrefix(got, "sha256:") {
		t.Errorf("inspect --type image: %q", got)
	}

	// A bad template: one line, 125, nothing printed; an unknown name: 1.
	r := berth(t, "", "inspect", "-f", "{{.State", "insp")
	if r.code != 125 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "template parsing error") {
		t.Errorf("bad template: %+v", r)
	}
	r = berth(t, "", "inspect", "-f", "{{nosuchfunc .}}", "insp")
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("unknown function: %+v", r)
	}
	r = berth(t, "", "inspect", "-f", "{{.Name}}", "insp", "no-such-thing")
	if r.code != 1 || r.stdout != "/insp\n" || !strings.Contains(r.stderr, "No such object: no-such-thing") {
		t.Errorf("inspect of a missing name: %+v", r)
	}
}

// TestPsLastLatestSize: ps -n N and -l show the last created containers
// in any state; -s adds docker's SIZE column; --no-trunc whole IDs.
func TestPsLastLatestSize(t *testing.T) {
	needRoot(t)
	for _, n := range []string{"ps-old", "ps-new"} {
		berth(t, "", "rm", "-f", n)
		defer berth(t, "", "rm", "-f", n)
	}
	old := strings.TrimSpace(mustBerth(t, "create", "--name", "ps-old", "--rootfs", rootfsDir, "true"))
	newer := strings.TrimSpace(mustBerth(t, "create", "--name", "ps-new", "--rootfs", rootfsDir, "sh", "-c", "echo a-rather-long-command-line"))
	if got := mustBerth(t, "ps", "-l", "-q"); got != newer[:12]+"\n" {
		t.Errorf("ps -l -q: %q, want %s", got, newer[:12])
	}
	if got := mustBerth(t, "ps", "-n", "2", "--no-trunc", "-q"); got != newer+"\n"+old+"\n" {
		t.Errorf("ps -n 2 --no-trunc -q: %q", got)
	}
	if got := mustBerth(t, "ps", "-n", "1", "--no-trunc", "--format", "{{.Command}}"); got != "\"sh -c echo a-rather-long-command-line\"\n" {
		t.Errorf("ps --no-trunc command: %q", got)
	}
	if got := mustBerth(t, "ps", "-aq", "--no-trunc", "--filter", "before=ps-new", "--filter", "name=ps-"); got != old+"\n" {
		t.Errorf("ps --filter before=ps-new: %q", got)
	}
	if got := mustBerth(t, "ps", "-aq", "--no-trunc", "--filter", "since=ps-old", "--filter", "name=ps-"); got != newer+"\n" {
		t.Errorf("ps --filter since=ps-old: %q", got)
	}
	if r := berth(t, "", "ps", "--filter", "colour=red"); r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "invalid filter") {
		t.Errorf("ps --filter colour=red: %+v", r)
	}
	out := mustBerth(t, "ps", "-a", "-s", "--filter", "name=ps-old")
	lines := strings.Split(out, "\n")
	if !strings.HasSuffix(lines[0], "NAMES     SIZE") || !strings.Contains(lines[1], "(virtual ") {
		t.Errorf("ps -s:\n%s", out)
	}
}
