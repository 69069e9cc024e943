package usermode

import (
	"bufio"
	"bytes"
	"os"
)

// The DNS forwarders the container's resolv.conf names: slirp4netns
// answers at 10.0.2.3 on its network; pasta at the address given to
// --dns-forward, podman's 169.254.1.1 (link-local, so it is on no
// network the host may be on). Both relay to the host's first
// nameserver, through a socket of theirs on the host.
const (
	SlirpDNS = "10.0.2.3"
	PastaDNS = "169.254.1.1"
)

// DNS is the forwarder of tool.
func DNS(tool string) string {
	if tool == Pasta {
		return PastaDNS
	}
	return SlirpDNS
}

// ResolvConf is the container's /etc/resolv.conf: the host's search and
// options lines, with tool's forwarder as the only nameserver. The host's
// nameservers may be on its loopback (systemd-resolved's 127.0.0.53),
// which is not the container's.
func ResolvConf(tool string, host []byte) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if bytes.HasPrefix(line, []byte("search")) || bytes.HasPrefix(line, []byte("domain")) || bytes.HasPrefix(line, []byte("options")) {
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	b.WriteString("nameserver " + DNS(tool) + "\n")
	return b.Bytes()
}

// WriteResolvConf writes tool's resolv.conf, from the host's, to path,
// readable by every user of the container.
func WriteResolvConf(path, tool string) error {
	host, _ := os.ReadFile("/etc/resolv.conf") // none: no search list
	if err := os.WriteFile(path, ResolvConf(tool, host), 0o644); err != nil {
		return err
	}
	return os.Chmod(path, 0o644)
}
