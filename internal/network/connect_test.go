package network

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-runtime/berth/internal/network/ipam"
)

// TestMultiHomedHosts: a container on two networks has the members of
// both in its hosts files, its first network's address first; each
// network's members see it, and only their own network's members;
// leaving one network takes its members out of the container's hosts
// and it out of theirs, marker included.
func TestMultiHomedHosts(t *testing.T) {
	inPrivateNetns(t, func() {
		root := t.TempDir()
		front, err := Create(root, "front", netip.MustParsePrefix("10.1.0.0/24"))
		if err != nil {
			t.Error(err)
			return
		}
		back, err := Create(root, "back", netip.MustParsePrefix("10.2.0.0/24"))
		if err != nil {
			t.Error(err)
			return
		}
		attach := func(n *Network, id string, o AttachOptions) *Attachment {
			o.Names = append([]string{id + "-host"}, o.Names...)
			a, err := n.AttachOpts(id, o)
			if err != nil {
				t.Fatalf("attach %s to %s: %v", id, n.Name, err)
			}
			return a
		}
		a1 := attach(front, "aaaa", AttachOptions{Names: []string{"a"}, MultiHomed: true})
		defer a1.Release()
		c := attach(front, "cccc", AttachOptions{Names: []string{"c"}})
		defer c.Release()
		b := attach(back, "bbbb", AttachOptions{Names: []string{"b"}})
		defer b.Release()
		a2 := attach(back, "aaaa", AttachOptions{Names: []string{"a", "alias"}, Secondary: true, MultiHomed: true})
		hosts := func(n *Network, id string) string {
			got, _ := os.ReadFile(filepath.Join(n.dir, "files", id, "hosts"))
			return string(got)
		}
		ha := hosts(front, "aaaa")
		if ha != hosts(back, "aaaa") || !strings.Contains(ha, "\tbbbb-host b\n") || !strings.Contains(ha, "\tcccc-host c\n") ||
			strings.Index(ha, "10.1.0.") > strings.Index(ha, "10.2.0.") || a2.HostIf == a1.HostIf {
			t.Errorf("a's hosts on front and back:\n%s\n%s", ha, hosts(back, "aaaa"))
		}
		if hb := hosts(back, "bbbb"); !strings.Contains(hb, a2.Addr.String()+"\taaaa-host a alias\n") || strings.Contains(hb, "c-host") || strings.Contains(hb, a1.Addr.String()) {
			t.Errorf("b's hosts:\n%s", hb)
		}
		if hc := hosts(front, "cccc"); !strings.Contains(hc, a1.Addr.String()+"\taaaa-host a\n") || strings.Contains(hc, "b-host") {
			t.Errorf("c's hosts:\n%s", hc)
		}
		if err := a2.Release(); err != nil {
			t.Fatal(err)
		}
		if ha := hosts(front, "aaaa"); strings.Contains(ha, "b-host") || !strings.Contains(ha, "c-host") {
			t.Errorf("a's hosts after leaving back:\n%s", ha)
		}
		if hb := hosts(back, "bbbb"); strings.Contains(hb, "aaaa-host") {
			t.Errorf("b's hosts after a left:\n%s", hb)
		}
		if _, err := os.Stat(filepath.Join(back.dir, "files", "aaaa"+multiSuffix)); !os.IsNotExist(err) {
			t.Errorf("a's marker on back is left: %v", err)
		}
	})
}

// addressOnly makes a's host side its address and files alone: Prestart
// runs the host side on a goroutine of its own, whose thread is in the
// host's network namespace, not in the test's private one, and the bridge
// and rules must not be made there.
func addressOnly(a *Attachment) *Attachment {
	a.hostSide = sync.OnceValue(a.Address)
	return a
}

// TestReserveThenAddress: berth run reserves a container's place first and
// makes its address and files in the background (Prestart); Address waits
// for them. An address that turns out to be taken fails Address, and
// Release, even while the background work still runs, leaves neither an
// allocation nor files.
func TestReserveThenAddress(t *testing.T) {
	inPrivateNetns(t, func() {
		n, err := Create(t.TempDir(), "front", netip.MustParsePrefix("10.3.0.0/24"))
		if err != nil {
			t.Error(err)
			return
		}
		owners := func() map[string]netip.Addr {
			pool, err := ipam.Open(n.dir, n.Subnet)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pool.Owners()
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		filesOf := func(id string) bool {
			_, err := os.Stat(filepath.Join(n.dir, "files", id))
			return err == nil
		}
		a, err := n.Reserve("aaaa", AttachOptions{Names: []string{"a-host", "a"}})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Release()
		addressOnly(a).Prestart()
		if err := a.Address(); err != nil || !a.Addr.IsValid() {
			t.Fatalf("address: %v, %v", a.Addr, err)
		}
		hosts, _ := os.ReadFile(filepath.Join(n.dir, "files", "aaaa", "hosts"))
		if !strings.Contains(string(hosts), a.Addr.String()+"\ta-host a\n") {
			t.Errorf("a's hosts:\n%s", hosts)
		}

		taken, err := n.Reserve("bbbb", AttachOptions{Names: []string{"b-host"}, IP: a.Addr})
		if err != nil {
			t.Fatalf("reserve with an address in use: %v (it is found taken by Address)", err)
		}
		addressOnly(taken).Prestart()
		if err := taken.Address(); !errors.Is(err, ipam.ErrInUse) {
			t.Errorf("address in use: %v", err)
		}
		if err := taken.Release(); err != nil {
			t.Error(err)
		}
		if got := owners(); len(got) != 1 || got["aaaa"] != a.Addr || filesOf("bbbb") {
			t.Errorf("after a refused address: owners %v, bbbb's files left: %v", got, filesOf("bbbb"))
		}

		for i := 0; i < 20; i++ {
			c, err := n.Reserve("cccc", AttachOptions{Names: []string{"c-host"}})
			if err != nil {
				t.Fatal(err)
			}
			addressOnly(c).Prestart()
			if err := c.Release(); err != nil { // while Prestart may still run
				t.Fatal(err)
			}
			if got := owners(); len(got) != 1 || filesOf("cccc") {
				t.Fatalf("round %d, released during Prestart: owners %v, cccc's files left: %v", i, got, filesOf("cccc"))
			}
		}
	})
}
