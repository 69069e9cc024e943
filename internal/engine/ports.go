package engine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/network/nft"
)

// PortMapping is one published port of a running container, as docker
// port shows it.
type PortMapping struct {
	ContainerPort uint16
	Proto         string // tcp or udp
	HostIP        string // 0.0.0.0: every address
	HostPort      uint16
}

// Private is docker port's left side: "80/tcp".
func (p PortMapping) Private() string { return fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto) }

// Public is docker port's right side: "0.0.0.0:8080".
func (p PortMapping) Public() string { return fmt.Sprintf("%s:%d", p.HostIP, p.HostPort) }

// String is one line of docker port: "80/tcp -> 0.0.0.0:8080".
func (p PortMapping) String() string { return p.Private() + " -> " + p.Public() }

// Ports are the published ports of a running container, as its run
// recorded them, sorted by container port; private ("80", "80/tcp"),
// if given, keeps those of one port. A container that is not running
// publishes nothing, as docker's; asked for a port it does not publish,
// Ports fails with ErrNotFound in docker's words.
func (e *Engine) Ports(rec managed.Record, private string) ([]PortMapping, error) {
	var want string
	if private != "" {
		var err error
		if want, err = parsePrivatePort(private); err != nil {
			return nil, err
		}
	}
	var out []PortMapping
	if rec.State.Up() && rec.Network != nil {
		for _, s := range rec.Network.Ports {
			p, err := nft.ParsePort(s)
			if err != nil {
				return nil, fmt.Errorf("container %s: recorded port: %w", rec.Name, err)
			}
			m := PortMapping{ContainerPort: p.ContainerPort, Proto: p.Proto, HostIP: "0.0.0.0", HostPort: p.HostPort}
			if p.HostIP.IsValid() {
				m.HostIP = p.HostIP.String()
			}
			if want == "" || m.Private() == want {
				out = append(out, m)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ContainerPort != out[j].ContainerPort {
			return out[i].ContainerPort < out[j].ContainerPort
		}
		return out[i].Proto < out[j].Proto
	})
	if want != "" && len(out) == 0 {
		return nil, errdefs.New(errdefs.ErrNotFound, "No public port '%s' published for %s", want, rec.Name)
	}
	return out, nil
}

// parsePrivatePort is docker port's PRIVATE_PORT[/PROTO], tcp by default.
func parsePrivatePort(s string) (string, error) {
	port, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || (proto != "tcp" && proto != "udp" && proto != "sctp") {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid port %q: give PORT or PORT/PROTO (tcp, udp, sctp)", s)
	}
	return fmt.Sprintf("%d/%s", n, proto), nil
}

// PortsColumn is ps's PORTS of a container: its published ports in
// Docker's form, "0.0.0.0:8080->80/tcp, ...", while it is up.
func PortsColumn(rec managed.Record) string {
	if !rec.State.Up() || rec.Network == nil {
		return ""
	}
	var out []string
	for _, s := range rec.Network.Ports {
		p, err := nft.ParsePort(s)
		if err != nil {
			out = append(out, s) // as recorded
			continue
		}
		out = append(out, p.HostAddr().String()+":"+strconv.Itoa(int(p.HostPort))+"->"+strconv.Itoa(int(p.ContainerPort))+"/"+p.Proto)
	}
	return strings.Join(out, ", ")
}
