package terminal

import (
	"os"
	"testing"
)

// TestOpenPTY opens a pair from the devpts at /dev/pts (outside a
// container: the host's) and passes bytes from slave to master.
func TestOpenPTY(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	master, slave, err := OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	if !IsTerminal(slave) {
		t.Fatal("the slave is not a terminal")
	}
	if _, err := slave.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := master.Read(b); err != nil || b[0] != 'x' {
		t.Errorf("master read %q, %v", b, err)
	}
}
