package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Generation is the nftables ruleset's generation in this process's
// network namespace. The kernel increments it with every committed change
// to any table, by anyone, so an unchanged generation says the whole
// ruleset is as it was: a check of berth's rules made at that generation
// still holds, and need not list them again (3 ms a start).
func Generation() (uint32, error) { return generation(-1) }

func generation(netnsFD int) (uint32, error) {
	var gen uint32
	err := doRaw(netnsFD, func(c *netlink.Conn) error {
		req := netlink.Message{
			Header: netlink.Header{
				Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
				Flags: netlink.Request,
			},
			// struct nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0.
			Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
		}
		msgs, err := c.Execute(req)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if id, ok := generationOf(m); ok {
				gen = id
				return nil
			}
		}
		return fmt.Errorf("no NFTA_GEN_ID in the kernel's answer")
	})
	if err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	return gen, nil
}

// generationOf is the NFTA_GEN_ID of an NFT_MSG_NEWGEN message.
func generationOf(m netlink.Message) (uint32, bool) {
	if m.Header.Type != netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_NEWGEN) || len(m.Data) < 4 {
		return 0, false
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return 0, false
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		if ad.Type() == unix.NFTA_GEN_ID {
			return ad.Uint32(), true
		}
	}
	return 0, false
}

// deleteTableAt deletes berth's table in a transaction that the kernel
// carries out only while the ruleset's generation is still gen (the batch
// names it, NFNL_BATCH_GENID): after any change since, by anyone, it
// refuses with ERESTART and nothing is deleted. google/nftables cannot
// send such a batch.
func deleteTableAt(netnsFD int, gen uint32) error {
	genAttr, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFNL_BATCH_GENID, Data: binary.BigEndian.AppendUint32(nil, gen)},
	})
	if err != nil {
		return err
	}
	name, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_TABLE_NAME, Data: []byte(TableName + "\x00")}})
	if err != nil {
		return err
	}
	// struct nfgenmsg: family, version, res_id (big endian: the subsystem
	// for the batch's ends).
	batchHdr := []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, unix.NFNL_SUBSYS_NFTABLES}
	msgs := []netlink.Message{
		{Header: netlink.Header{Type: unix.NFNL_MSG_BATCH_BEGIN, Flags: netlink.Request}, Data: append(batchHdr, genAttr...)},
		{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_DELTABLE), Flags: netlink.Request | netlink.Acknowledge},
			Data: append([]byte{unix.NFPROTO_IPV4, unix.NFNETLINK_V0, 0, 0}, name...)},
		{Header: netlink.Header{Type: unix.NFNL_MSG_BATCH_END, Flags: netlink.Request}, Data: batchHdr},
	}
	committed.Store(true)
	err = doRaw(netnsFD, func(c *netlink.Conn) error {
		if _, err := c.SendMessages(msgs); err != nil {
			return err
		}
		// One answer: the DELTABLE's ack, or the refusal of the batch.
		_, err := c.Receive()
		return err
	})
	if err != nil {
		return fmt.Errorf("nftables: deleting table %s: %w", TableName, err)
	}
	return nil
}
