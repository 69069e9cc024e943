package network

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// FileOptions are docker run's --add-host, --dns, --dns-search and
// --dns-option: what the container's /etc/hosts and /etc/resolv.conf
// say besides the network's own.
type FileOptions struct {
	// ExtraHosts are NAME:IP (IP may be host-gateway, the network's
	// gateway), as --add-host takes them.
	ExtraHosts                 []string
	DNS, DNSSearch, DNSOptions []string
}

// HostGateway is --add-host's name for the network's gateway address.
const HostGateway = "host-gateway"

// Check refuses a malformed value in one line.
func (o FileOptions) Check() error {
	for _, h := range o.ExtraHosts {
		if _, _, err := splitExtraHost(h); err != nil {
			return err
		}
	}
	for _, d := range o.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid --dns %q: give an IP address", d)
		}
	}
	for flag, values := range map[string][]string{"--dns-search": o.DNSSearch, "--dns-option": o.DNSOptions} {
		for _, v := range values {
			if v == "" || strings.ContainsAny(v, " \t\n#;") {
				return errdefs.New(errdefs.ErrInvalidArgument, "invalid %s %q: one word, without spaces", flag, v)
			}
		}
	}
	return nil
}

// Empty reports whether no option is set.
func (o FileOptions) Empty() bool {
	return len(o.ExtraHosts)+len(o.DNS)+len(o.DNSSearch)+len(o.DNSOptions) == 0
}

// splitExtraHost reads NAME:IP (or Docker 25's NAME=IP); an IPv6
// address keeps its colons.
func splitExtraHost(h string) (name, ip string, err error) {
	name, ip, ok := strings.Cut(h, "=")
	if !ok {
		name, ip, ok = strings.Cut(h, ":")
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if !ok || name == "" || strings.ContainsAny(name, " \t\n#") {
		return "", "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --add-host %q: use NAME:IP", h)
	}
	if ip == HostGateway {
		return name, ip, nil
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return "", "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --add-host %q: %q is not an IP address (or host-gateway)", h, ip)
	}
	return name, ip, nil
}

// extraHostsFile holds a member's --add-host lines, appended to its
// /etc/hosts each time the network's hosts files are rewritten.
const extraHostsFile = "extra-hosts"

// writeExtraHosts stores the container's --add-host lines.
func (a *Attachment) writeExtraHosts(o FileOptions) error {
	var lines string
	for _, h := range o.ExtraHosts {
		name, ip, _ := splitExtraHost(h)
		if ip == HostGateway {
			ip = a.net.Subnet.Addr().Next().String()
		}
		lines += ip + "\t" + name + "\n"
	}
	if err := os.WriteFile(filepath.Join(a.filesDir, extraHostsFile), []byte(lines), 0o644); err != nil {
		return fmt.Errorf("network files: %w", err)
	}
	return nil
}

// customResolvConf is conf with Docker's overrides: --dns replaces the
// nameservers, --dns-search the search list ("." for none), --dns-option
// the options.
func customResolvConf(conf string, o FileOptions) string {
	var out []string
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "nameserver" && len(o.DNS) > 0 ||
			(f[0] == "search" || f[0] == "domain") && len(o.DNSSearch) > 0 ||
			f[0] == "options" && len(o.DNSOptions) > 0) {
			continue
		}
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	for _, d := range o.DNS {
		out = append(out, "nameserver "+d)
	}
	if len(o.DNSSearch) > 0 && !(len(o.DNSSearch) == 1 && o.DNSSearch[0] == ".") {
		out = append(out, "search "+strings.Join(o.DNSSearch, " "))
	}
	if len(o.DNSOptions) > 0 {
		out = append(out, "options "+strings.Join(o.DNSOptions, " "))
	}
	return strings.Join(out, "\n") + "\n"
}
