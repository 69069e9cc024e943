package network

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/network/nft"
	"golang.org/x/sys/unix"
)

// checkedFile records the nftables ruleset version at which a network's
// rules were last found in place (see ensure).
const checkedFile = "rules-checked"

// rulesetVersion names the ruleset this process sees as it is now: the
// boot, the network namespace and nftables' generation, which the kernel
// increments with every change by anyone. The generation restarts with
// each boot and is per namespace, so it means nothing without the others.
func rulesetVersion() (string, error) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return "", err
	}
	gen, err := nft.Generation()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d:%d %d", strings.TrimSpace(string(boot)), st.Dev, st.Ino, gen), nil
}

// rulesChecked reports whether the network's rules were found in place
// at version: nothing in the ruleset has changed since.
func (n *Network) rulesChecked(version string) bool {
	b, err := os.ReadFile(filepath.Join(n.dir, checkedFile))
	return err == nil && version != "" && string(b) == version
}

// markChecked records that the rules were in place at version. A version
// read before they were listed is safe to record: any change after it
// moves the generation, and the next start lists them again.
func (n *Network) markChecked(version string) {
	if version == "" {
		return
	}
	tmp := filepath.Join(n.dir, "."+checkedFile)
	if err := os.WriteFile(tmp, []byte(version), 0o600); err == nil {
		_ = os.Rename(tmp, filepath.Join(n.dir, checkedFile))
	}
}
