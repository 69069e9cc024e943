package engine

import (
	"strings"
	"testing"
)

// TestParseNetDev: bytes are summed over the interfaces but loopback;
// the two header lines and short lines count for nothing.
func TestParseNetDev(t *testing.T) {
	dev := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0
  eth0:    1200      10    0    0    0     0          0         0      300       3    0    0    0     0       0          0
  eth1:      34       1    0    0    0     0          0         0       12       1    0    0    0     0       0          0
  bad: 1 2 3
`
	rx, tx := parseNetDev(strings.NewReader(dev))
	if rx != 1234 || tx != 312 {
		t.Errorf("rx %d tx %d, want 1234 312", rx, tx)
	}
}
