package network

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

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
	boot, err := bootID()
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

// bootID is this boot's ID, read once a process.
var bootID = sync.OnceValues(func() ([]byte, error) { return os.ReadFile("/proc/sys/kernel/random/boot_id") })

// nextVersion is version with its generation one further: the ruleset
// after exactly one more transaction. "" if version is not one.
func nextVersion(version string) string {
	i := strings.LastIndexByte(version, ' ')
	if i < 0 {
		return ""
	}
	gen, err := strconv.ParseUint(version[i+1:], 10, 32)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %d", version[:i], uint32(gen+1))
}

// changePorts runs change, port mappings changed in at most one nftables
// transaction, under the network's lock. The transaction moves the
// ruleset's generation, which would make the next start list the
// network's rules again (ensure, 1-3 ms), though a port mapping changes
// none of them: if the rules were found in place at the generation the
// record names, the change committed one transaction and the generation
// now is the next one, that transaction was the only change since, and
// the record moves to the new generation.
func (n *Network) changePorts(change func(*nft.Rules) error) error {
	return n.withRules(func(r *nft.Rules) error {
		commits := nft.PortCommits()
		if err := change(r); err != nil {
			return err
		}
		if nft.PortCommits() != commits+1 {
			return nil
		}
		recorded, err := os.ReadFile(filepath.Join(n.dir, checkedFile))
		if err != nil {
			return nil
		}
		if now, _ := rulesetVersion(); now != "" && now == nextVersion(string(recorded)) {
			n.markChecked(now)
		}
		return nil
	})
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
