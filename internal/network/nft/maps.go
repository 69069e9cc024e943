package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Published ports are elements of two maps, not rules: publishing a port
// adds an element, and taking it down deletes one, each in a one-message
// transaction. The two lookup rules of the ports chain never change.
// (Deleting a rule, or an element, makes the kernel wait out an RCU grace
// period before it frees it; see done for who pays for that wait.)
//
// One map is keyed by the host address too, for ports published on one
// address; the other, for ports published on every local address, by
// protocol and port alone. Both give the container's address and port:
//
//	map ports_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
//	map ports_all  { type inet_proto . inet_service : ipv4_addr . inet_service }
//
// Each element carries its owner's tag as its comment, as the rules did,
// so that RemoveOwner and Owners find a container's mappings in the
// kernel, with nothing remembered elsewhere.
const (
	setPortsAddr = "ports_addr"
	setPortsAll  = "ports_all"
)

// Registers: a concatenation is loaded into consecutive 32-bit registers
// (NFT_REG32_00 is 8, and overlaps the 16-byte register 1), each part
// padded to 4 bytes; the lookup writes the mapped address and port the
// same way.
const (
	reg32x0 = 8
	reg32x1 = 9
	reg32x2 = 10
)

var (
	keyPortsAddr = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	keyPortsAll  = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	valPort      = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
)

// portSet is the definition of one of the maps. The IDs name the sets
// within a transaction that also creates the rules that use them.
func portSet(t *nftables.Table, name string) *nftables.Set {
	s := &nftables.Set{Table: t, Name: name, IsMap: true, Concatenation: true, DataType: valPort, ID: 1}
	s.KeyType = keyPortsAddr
	if name == setPortsAll {
		s.KeyType, s.ID = keyPortsAll, 2
	}
	return s
}

// mapRules are the ports chain's two rules: look the packet up in each
// map and DNAT it to what the map gives. A packet that is in neither
// goes on untouched (a failed lookup ends the rule).
func mapRules(t *nftables.Table) []*nftables.Rule {
	ports := chain(t, chainPorts)
	proto := func(reg uint32) expr.Any { return &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg} }
	dport := func(reg uint32) expr.Any {
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
	}
	lookup := func(s *nftables.Set) []expr.Any {
		return []expr.Any{
			&expr.Lookup{SourceRegister: reg32x0, DestRegister: reg32x0, IsDestRegSet: true, SetName: s.Name, SetID: s.ID},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
				RegAddrMin: reg32x0, RegProtoMin: reg32x1, Specified: true},
		}
	}
	byAddr := join([]expr.Any{
		&expr.Payload{DestRegister: reg32x0, Base: expr.PayloadBaseNetworkHeader, Offset: offDaddr, Len: 4},
		proto(reg32x1), dport(reg32x2),
	}, lookup(portSet(t, setPortsAddr)))
	all := join([]expr.Any{proto(reg32x0), dport(reg32x1)}, lookup(portSet(t, setPortsAll)))
	return []*nftables.Rule{
		{Table: t, Chain: ports, Exprs: byAddr, UserData: comment(tagMaps)},
		{Table: t, Chain: ports, Exprs: all, UserData: comment(tagMaps)},
	}
}

// element is the map element of one published port: which map, its key
// and its value, each part padded to 4 bytes as the registers hold it.
func element(p Port, containerIP netip.Addr, tag string) (string, nftables.SetElement) {
	proto := pad([]byte{protoNumber(p.Proto)})
	port := pad(binary.BigEndian.AppendUint16(nil, p.HostPort))
	ctr := containerIP.As4()
	val := append(ctr[:], pad(binary.BigEndian.AppendUint16(nil, p.ContainerPort))...)
	if p.allAddrs() {
		return setPortsAll, nftables.SetElement{Key: append(proto, port...), Val: val, Comment: tag}
	}
	host := p.HostIP.As4()
	key := append(append(host[:], proto...), port...)
	return setPortsAddr, nftables.SetElement{Key: key, Val: val, Comment: tag}
}

func pad(b []byte) []byte { return append(b, make([]byte, (4-len(b)%4)%4)...) }

// mapped is a published port read back from a map: its map, its element
// (whose key deletes it), and what its tag says.
type mapped struct {
	set  string
	elem nftables.SetElement
	published
}

// listMapped returns the elements of both maps that carry a port tag.
// The maps must exist.
func listMapped(c *nftables.Conn) ([]mapped, error) {
	var out []mapped
	for _, name := range []string{setPortsAddr, setPortsAll} {
		elems, err := c.GetSetElements(portSet(table(), name))
		if err != nil {
			return nil, fmt.Errorf("nftables: listing map %s of table %s: %w", name, TableName, err)
		}
		for _, e := range elems {
			if p, ok := parsePublished(e.Comment); ok {
				out = append(out, mapped{set: name, elem: e, published: p})
			}
		}
	}
	return out, nil
}

// mapsPresent reports whether berth's table has both maps.
func mapsPresent(c *nftables.Conn) (bool, error) {
	sets, err := c.GetSets(table())
	if err != nil {
		return false, fmt.Errorf("nftables: listing the sets of table %s: %w", TableName, err)
	}
	n := 0
	for _, s := range sets {
		if s.Name == setPortsAddr || s.Name == setPortsAll {
			n++
		}
	}
	return n == 2, nil
}
