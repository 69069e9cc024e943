package caps

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for name, want := range map[string]int{"CAP_CHOWN": 0, "net_admin": 12, "CAP_SYS_ADMIN": 21, "SETFCAP": 31} {
		got, err := Parse(name)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := Parse("CAP_TEST"); err == nil {
		t.Error("Parse(CAP_TEST) succeeded; want an error")
	}
}

func TestMask(t *testing.T) {
	m, err := Mask([]string{"CAP_CHOWN", "CAP_KILL"})
	if err != nil || m != 1|1<<5 {
		t.Fatalf("Mask = %#x, %v", m, err)
	}
	if len(All()) != Last()+1 {
		t.Fatalf("All() has %d names, kernel's last cap is %d", len(All()), Last())
	}
}

// Last probes the kernel rather than reading /proc; on the host both must
// agree.
func TestLastMatchesKernel(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skip(err)
	}
	if want, _ := strconv.Atoi(strings.TrimSpace(string(b))); Last() != want {
		t.Errorf("Last() = %d, the kernel says %d", Last(), want)
	}
}
