package nft

import (
	"fmt"
	"net/netip"
	"strings"
)

// Tags are stored as the rule's nft comment: user data TLV type 0
// (NFTNL_UDATA_RULE_COMMENT), NUL terminated, as nft writes it.
const (
	udataComment = 0
	maxOwner     = 128 // keeps the longest port tag well under 255 bytes
	tagDispatch  = "dispatch"
	tagGuard     = "guard"
	tagMaps      = "maps"
	tagNetwork   = "network:"
	tagOwner     = "owner:"
)

func networkTag(bridge string) string { return tagNetwork + bridge }

// tableTag reports whether a tag is one of the table's own rules, which
// every network shares: the dispatch jumps, the loopback guard and the
// map lookups of the ports chain.
func tableTag(tag string) bool { return tag == tagDispatch || tag == tagGuard || tag == tagMaps }

// published is a published port as read back from its tag.
type published struct {
	owner string
	port  Port
	tag   string
}

// ownerTag is "owner:ID PROTO HOSTIP:HOSTPORT CONTAINERIP:PORT", with
// HOSTIP 0.0.0.0 for every local address.
func ownerTag(owner string, p Port, containerIP netip.Addr) string {
	return fmt.Sprintf("%s%s %s %s %s", tagOwner, owner, p.Proto,
		netip.AddrPortFrom(p.HostAddr(), p.HostPort), netip.AddrPortFrom(containerIP, p.ContainerPort))
}

// ownerOf returns the owner in a tag, if it is an owner's tag.
func ownerOf(tag string) (string, bool) {
	rest, ok := strings.CutPrefix(tag, tagOwner)
	owner, _, _ := strings.Cut(rest, " ")
	return owner, ok && owner != ""
}

// parsePublished reads a port tag back.
func parsePublished(tag string) (published, bool) {
	f := strings.Fields(tag)
	owner, ok := ownerOf(tag)
	if !ok || len(f) != 4 {
		return published{}, false
	}
	host, err1 := netip.ParseAddrPort(f[2])
	ctr, err2 := netip.ParseAddrPort(f[3])
	if err1 != nil || err2 != nil {
		return published{}, false
	}
	p := Port{HostIP: host.Addr(), HostPort: host.Port(), ContainerPort: ctr.Port(), Proto: f[1]}
	return published{owner: owner, port: p, tag: tag}, true
}

// comment encodes s as rule user data.
func comment(s string) []byte {
	return append([]byte{udataComment, byte(len(s) + 1)}, append([]byte(s), 0)...)
}

// commentOf returns the comment in rule user data, "" if there is none.
// It checks every length: the table is ours, but anybody can add rules.
func commentOf(udata []byte) string {
	for len(udata) >= 2 {
		typ, n := udata[0], int(udata[1])
		if len(udata) < 2+n {
			return ""
		}
		if typ == udataComment {
			return strings.TrimSuffix(string(udata[2:2+n]), "\x00")
		}
		udata = udata[2+n:]
	}
	return ""
}
