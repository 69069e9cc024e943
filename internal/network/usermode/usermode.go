// Package usermode gives a rootless container a network through a
// user-mode TCP/IP stack, pasta (Debian's passt package) or slirp4netns:
// an ordinary user cannot make berth's bridge, veths and nftables rules
// in the host's network namespace, so a process of the user's relays the
// container's traffic through sockets of its own on the host instead, as
// podman does. Like podman 5, berth prefers pasta when it is installed:
// it maps the container's frames onto sockets of its own without a TCP
// stack (slirp4netns runs one, libslirp's), and is maintained with
// podman; docs/bench.md has both tools' throughput.
package usermode

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/network/nft"
	"golang.org/x/sys/unix"
)

// The tools, by podman's names for them (--network pasta, slirp4netns).
const (
	Pasta = "pasta"
	Slirp = "slirp4netns"
)

// ErrNone means neither tool is installed.
var ErrNone = errors.New("a rootless bridge network needs pasta or slirp4netns: install Debian's passt or slirp4netns package, or use --network none or host")

// ErrNoTun means the user may not open /dev/net/tun.
var ErrNoTun = errors.New("a rootless user-mode network needs /dev/net/tun open to every user (mode 0666, as Debian ships it); use --network none or host")

// Address is the container's address on the user-mode network
// (10.0.2.0/24, slirp4netns's default, which berth gives pasta too so that
// both look alike), and its gateway.
const (
	Address = "10.0.2.100"
	Gateway = "10.0.2.2"
)

// IsTool reports whether name is one of the tools (--network NAME).
func IsTool(name string) bool { return name == Pasta || name == Slirp }

// Choose returns the tool a rootless container uses: name if it is one
// ("" or "bridge" mean the default, pasta if it is installed, else
// slirp4netns), once it is found installed and /dev/net/tun usable.
func Choose(name string) (string, error) {
	switch name {
	case "", "bridge":
		name = Pasta
		if _, err := exec.LookPath(Pasta); err != nil {
			name = Slirp
		}
	case Pasta, Slirp:
	default:
		return "", errdefs.New(errdefs.ErrInvalidArgument, "unknown user-mode network %q: use pasta or slirp4netns", name)
	}
	if _, err := Available(name); err != nil {
		return "", err
	}
	return name, nil
}

// Available reports whether tool can be found, and where.
func Available(tool string) (string, error) {
	path, err := exec.LookPath(tool)
	if err != nil {
		if tool == Pasta {
			return "", errors.New("--network pasta needs pasta: install Debian's passt package, or use --network slirp4netns")
		}
		if _, perr := exec.LookPath(Pasta); perr != nil {
			return "", ErrNone
		}
		return "", errors.New("--network slirp4netns needs slirp4netns: install Debian's slirp4netns package, or use --network pasta")
	}
	// Both open the container's tap device through /dev/net/tun.
	if err := unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK); err != nil {
		return "", fmt.Errorf("%w: /dev/net/tun: %v", ErrNoTun, err)
	}
	return path, nil
}

// Stack is a running user-mode stack serving one container.
type Stack interface {
	// Record is what garbage collection needs to end the stack once
	// berth is gone.
	Record() Record
	// Stop ends the stack and removes its files.
	Stop()
}

// Start connects the network namespace of process pid (the container's
// init stage, waiting) to the host through tool, with its tap device up
// and configured, and publishes ports on the host. runDir holds files of
// the stack (API socket, PID file) named by the container's id.
func Start(tool string, pid int, runDir, id string, ports []nft.Port) (Stack, error) {
	var (
		s   Stack
		err error
	)
	// Assigned only on success: a nil *pastaStack in a Stack is not nil.
	switch tool {
	case Pasta:
		var p *pastaStack
		if p, err = startPasta(pid, runDir, id, ports); err == nil {
			s = p
		}
	case Slirp:
		var p *slirpStack
		if p, err = startSlirp(pid, runDir, id, ports); err == nil {
			s = p
		}
	default:
		err = fmt.Errorf("unknown user-mode network %q", tool)
	}
	return s, err
}
