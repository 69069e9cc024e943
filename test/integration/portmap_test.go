package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nftTable is `nft list table ip berth` in the host's namespace.
func (h *netnsHost) nftTable(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+h.netnsPath(), "nft", "list", "table", "ip", "berth").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table ip berth: %v %s", err, out)
	}
	return protoNames(string(out))
}

// elementProto is a port map element's protocol as nft lists it: a name,
// or a number where the system has no /etc/protocols (the v2 VM), with
// the name in the element's comment.
var elementProto = regexp.MustCompile(`\b\d+ \. (\d+ comment "owner:\S+ (tcp|udp|sctp) )`)

// protoNames lists every port map element's protocol by name.
func protoNames(table string) string {
	return elementProto.ReplaceAllString(table, "$2 . $1")
}

// address is a container's address on its network, from inspect.
func (h *netnsHost) address(t *testing.T, ref string) string {
	t.Helper()
	b, err := h.berth(t, "inspect", ref).Output()
	var out []struct{ NetworkSettings struct{ IPAddress string } }
	if err != nil || json.Unmarshal(b, &out) != nil || len(out) != 1 || out[0].NetworkSettings.IPAddress == "" {
		t.Fatalf("inspect %s: %v %s", ref, err, b)
	}
	return out[0].NetworkSettings.IPAddress
}

// portsChain is the body of the ports chain in an nft listing.
var portsChain = regexp.MustCompile(`(?s)chain ports \{(.*?)\}`)

// TestPortMapElementsCollectedAfterKill: a published port is an element
// of berth's map, with its owner's tag, and the ports chain keeps its two
// lookup rules, no rule per port; after kill -9 of the container's
// monitor, the next berth command deletes the element, and the port can
// be published again at once.
func TestPortMapElementsCollectedAfterKill(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	out, err := h.berth(t, "run", "-d", "--name", "web", "-p", "18121:80", "-p", "127.0.0.1:18122:80", "--rootfs", rootfsDir, "/bin/sh", "-c", webScript).CombinedOutput()
	if err != nil {
		t.Fatalf("run -d: %v %s", err, out)
	}
	id := strings.TrimSpace(string(out))
	defer h.berth(t, "rm", "-f", "web").Run()
	for _, port := range []int{18121, 18122} {
		eventually(t, fmt.Sprintf("published port %d to answer", port), func() string {
			got, err := httpFrom(h.netnsPath(), "127.0.0.1", port)
			if strings.Contains(got, "hello-from-berth") {
				return ""
			}
			return fmt.Sprintf("%v %q", err, got)
		})
	}
	table := h.nftTable(t)
	st := h.inspect(t, "web")
	addr := h.address(t, "web")
	for _, want := range []string{
		fmt.Sprintf(`tcp . 18121 comment "owner:%s tcp 0.0.0.0:18121 %s:80" : %s . 80`, id, addr, addr),
		fmt.Sprintf(`127.0.0.1 . tcp . 18122 comment "owner:%s tcp 127.0.0.1:18122 %s:80" : %s . 80`, id, addr, addr),
	} {
		if !strings.Contains(table, want) {
			t.Errorf("no map element %q in:\n%s", want, table)
		}
	}
	chain := portsChain.FindStringSubmatch(table)
	if chain == nil {
		t.Fatalf("no ports chain in:\n%s", table)
	}
	if rules := strings.Fields(strings.TrimSpace(chain[1])); strings.Contains(chain[1], "owner:") || strings.Count(chain[1], "\n") != 3 || !slices.Contains(rules, "@ports_addr") || !slices.Contains(rules, "@ports_all") {
		t.Errorf("the ports chain is not its two lookups:%s", chain[1])
	}

	if err := unix.Kill(st.MonitorPid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone(t, st.MonitorPid)
	gone(t, st.Pid)
	if out, err := h.berth(t, "ps", "-a").CombinedOutput(); err != nil {
		t.Fatalf("berth ps -a: %v %s", err, out)
	}
	if table := h.nftTable(t); strings.Contains(table, "owner:") {
		t.Errorf("the killed container's map elements were not collected:\n%s", table)
	}
	start := time.Now()
	if got, err := httpFrom(h.netnsPath(), "127.0.0.1", 18121); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("the port of the dead container: %v %q after %v, want refused at once", err, got, time.Since(start))
	}
	out, err = h.berth(t, "run", "--rm", "-p", "18121:80", "-p", "127.0.0.1:18122:80", "--rootfs", rootfsDir, "true").CombinedOutput()
	if err != nil {
		t.Errorf("publishing the same ports again: %v %s", err, out)
	}
}

// TestNetworkRmTakesTheMaps: the last network removed takes berth's
// table, maps and all, once no port is published; while another network
// is set up, the table stays.
func TestNetworkRmTakesTheMaps(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	for _, name := range []string{"n1", "n2"} {
		if out, err := h.berth(t, "network", "create", name).CombinedOutput(); err != nil {
			t.Fatalf("network create %s: %v %s", name, err, out)
		}
		if out, err := h.berth(t, "run", "--rm", "--network", name, "-p", "18131:80", "--rootfs", rootfsDir, "true").CombinedOutput(); err != nil {
			t.Fatalf("run on %s: %v %s", name, err, out)
		}
	}
	if !strings.Contains(h.nftTable(t), "map ports_all") {
		t.Fatalf("no map in:\n%s", h.nftTable(t))
	}
	if out, err := h.berth(t, "network", "rm", "n1").CombinedOutput(); err != nil {
		t.Fatalf("network rm n1: %v %s", err, out)
	}
	if table := h.nftTable(t); !strings.Contains(table, "map ports_all") || !strings.Contains(table, `comment "network:br-`) {
		t.Fatalf("after network rm n1, with n2 left:\n%s", table)
	}
	if out, err := h.berth(t, "network", "rm", "n2").CombinedOutput(); err != nil {
		t.Fatalf("network rm n2: %v %s", err, out)
	}
	if out, err := exec.Command("nsenter", "--net="+h.netnsPath(), "nft", "list", "table", "ip", "berth").CombinedOutput(); err == nil {
		t.Errorf("berth's table is left after the last network went:\n%s", out)
	}
}

// TestPortStopHandsOffSockets: berth rm -f of a container with published
// ports (its berth-monitor gone, the stop releases the network) removes
// the mappings by the record's keys, both forms, before it returns; the
// netfilter sockets it used go to a holder so that its exit does not
// wait for the kernel's release of them, and that holder is gone soon
// after: nothing is left running.
func TestPortStopHandsOffSockets(t *testing.T) {
	needRoot(t)
	h := newNetnsHost(t)
	out, err := h.berth(t, "run", "-d", "--name", "hand", "-p", "18131:80", "-p", "127.0.0.1:18132:80", "--rootfs", rootfsDir, "sleep", "600").CombinedOutput()
	if err != nil {
		t.Fatalf("run -d: %v %s", err, out)
	}
	defer h.berth(t, "rm", "-f", "hand").Run()
	if table := h.nftTable(t); strings.Count(table, "owner:") != 2 {
		t.Fatalf("want the two elements of the container:\n%s", table)
	}
	rm := h.berth(t, "rm", "-f", "hand")
	if out, err := rm.CombinedOutput(); err != nil {
		t.Fatalf("rm -f: %v %s", err, out)
	}
	if table := h.nftTable(t); strings.Contains(table, "owner:") {
		t.Errorf("rm -f returned with map elements left:\n%s", table)
	}
	// nsenter execs berth: the command's PID is berth's.
	marker := []byte(fmt.Sprintf("BERTH_NFT_HOLDER=%d\x00", rm.Process.Pid))
	eventually(t, "the holder of rm -f's sockets to exit", func() string {
		pids, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, p := range pids {
			if env, err := os.ReadFile(p); err == nil && bytes.Contains(env, marker) {
				return "still running: " + filepath.Dir(p)
			}
		}
		return ""
	})
}
