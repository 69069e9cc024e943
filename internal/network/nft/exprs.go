package nft

import (
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Offsets of the addresses in the IPv4 header.
const (
	offSaddr = 12
	offDaddr = 16
)

// ipsDstNAT is IPS_DST_NAT, the conntrack status bit of a DNATed flow.
const ipsDstNAT = 1 << 5

// loopback is 127.0.0.0/8: published ports reached through 127.0.0.1
// leave via the bridge with such a source and must be masqueraded.
var loopback = netip.MustParsePrefix("127.0.0.0/8")

// ifname is an interface name as the kernel compares it: IFNAMSIZ
// bytes, NUL padded.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// matchIface matches iifname or oifname (key) against name.
func matchIface(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

// matchPrefix matches the IPv4 source or destination (off) against p.
func matchPrefix(off uint32, p netip.Prefix) []expr.Any { return prefixCmp(off, p, expr.CmpOpEq) }

// matchPrefixNot matches when the address (off) is outside p.
func matchPrefixNot(off uint32, p netip.Prefix) []expr.Any { return prefixCmp(off, p, expr.CmpOpNeq) }

func prefixCmp(off uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	var mask [4]byte
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	addr := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: addr[:]},
	}
}

// matchAddr matches the IPv4 source or destination (off) against a.
func matchAddr(off uint32, a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

// matchCt matches when any of bits is set in the conntrack key (state
// or status).
func matchCt(key expr.CtKey, bits uint32) []expr.Any {
	return ctBits(key, bits, expr.CmpOpNeq)
}

// matchNoCt is "ct KEY & BITS == 0": the connection has none of bits.
func matchNoCt(key expr.CtKey, bits uint32) []expr.Any {
	return ctBits(key, bits, expr.CmpOpEq)
}

func ctBits(key expr.CtKey, bits uint32, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: key, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)},
	}
}

// matchLocalDaddr is "fib daddr type local": the packet is addressed
// to this host.
func matchLocalDaddr() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// matchDport matches the layer 4 protocol and destination port.
func matchDport(proto string, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoNumber(proto)}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// protoNumber is the IP protocol number. SCTP's destination port is at
// the same offset of its common header as TCP's and UDP's.
func protoNumber(proto string) byte {
	switch proto {
	case "udp":
		return unix.IPPROTO_UDP
	case "sctp":
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

// dnat rewrites the destination to ip:port.
func dnat(ip netip.Addr, port uint16) []expr.Any {
	b := ip.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: b[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
			RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

func masquerade() expr.Any { return &expr.Masq{} }

func accept() expr.Any { return &expr.Verdict{Kind: expr.VerdictAccept} }

func drop() expr.Any { return &expr.Verdict{Kind: expr.VerdictDrop} }

func jump(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }

// join concatenates the parts of a rule.
func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
