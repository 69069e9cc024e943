package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
