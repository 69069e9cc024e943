package build

import (
	"errors"
	"fmt"
	"github.com/berth-runtime/berth/internal/engine"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/spec"
)

// RUN --mount=type=ssh, as BuildKit's: the SSH agent --ssh names for the
// mount's ID (default: "default") answers on a socket at the target
// (/run/buildkit/ssh_agent.N for the RUN's Nth), SSH_AUTH_SOCK naming the
// first. The container never gets a host path: berth-build listens on a
// socket of its own, in a directory under <root>/build only root reaches,
// binds that socket into the step, and serves each connection itself,
// read-only (keys listed and used to sign, never added, removed or
// locked), from the caller's agent or from the key files given.

// sshAgents serves a build's agent sockets until the build ends.
type sshAgents struct {
	mu        sync.Mutex
	dir       string
	release   func() // removes dir (Scratch)
	listeners []net.Listener
	keyrings  map[string]agent.ExtendedAgent // by ID, for key files
}

// sshMount is the mount of m, the RUN's n-th ssh mount (counted in
// sshIndex), or none when its ID was not given and it is not required.
func (b *builder) sshMount(m *instructions.Mount, n int) (spec.MountRequest, bool, error) {
	id := sshID(m)
	paths, ok := b.o.SSH[id]
	if !ok {
		if m.Required {
			return spec.MountRequest{}, false, errdefs.New(errdefs.ErrInvalidArgument, "ssh %q is required: give it with --ssh %s (the SSH agent of SSH_AUTH_SOCK), --ssh %s=SOCKET or --ssh %s=KEYFILE", id, id, id, id)
		}
		return spec.MountRequest{}, false, nil
	}
	uid, gid, mode := 0, 0, os.FileMode(0o600)
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode & 0o777)
	}
	sock, err := b.agentSocket(id, paths, uid, gid, mode)
	if err != nil {
		return spec.MountRequest{}, false, fmt.Errorf("ssh %q: %w", id, err)
	}
	return spec.MountRequest{Type: spec.MountBind, Source: sock, Destination: sshTarget(m, n), ReadOnly: true}, true, nil
}

func sshID(m *instructions.Mount) string {
	if m.CacheID == "" {
		return "default"
	}
	return m.CacheID
}

func sshTarget(m *instructions.Mount, n int) string {
	if m.Target == "" {
		return fmt.Sprintf("/run/buildkit/ssh_agent.%d", n)
	}
	return m.Target
}

// sshIndex is m's place among c's ssh mounts.
func sshIndex(mounts []*instructions.Mount, m *instructions.Mount) int {
	n := 0
	for _, o := range mounts {
		if o == m {
			break
		}
		if o.Type == instructions.MountTypeSSH {
			n++
		}
	}
	return n
}

// sshEnv is SSH_AUTH_SOCK for a RUN with ssh mounts: the first one
// mounted, as BuildKit sets it.
func (b *builder) sshEnv(c *instructions.RunCommand) []string {
	mounts := instructions.GetMounts(c)
	for _, m := range mounts {
		if m.Type != instructions.MountTypeSSH {
			continue
		}
		if _, ok := b.o.SSH[sshID(m)]; ok {
			return []string{"SSH_AUTH_SOCK=" + sshTarget(m, sshIndex(mounts, m))}
		}
	}
	return nil
}

// agentSocket makes a socket owned uid:gid with mode that serves the
// agent of id, and returns its path.
func (b *builder) agentSocket(id string, paths []string, uid, gid int, mode os.FileMode) (string, error) {
	a := b.agents
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dir == "" {
		dir, release, err := engine.Scratch(b.e.Root, "ssh-")
		if err != nil {
			return "", err
		}
		a.dir, a.release = dir, release
	}
	serve, err := a.server(id, paths)
	if err != nil {
		return "", err
	}
	sock := filepath.Join(a.dir, fmt.Sprintf("%d.sock", len(a.listeners)))
	l, err := net.Listen("unix", sock)
	if err != nil {
		return "", err
	}
	// Not root (a rootless build), the socket stays the caller's, who is
	// the step's root.
	if os.Geteuid() == 0 {
		err = os.Chown(sock, uid, gid)
	}
	if err == nil {
		err = os.Chmod(sock, mode)
	}
	if err != nil {
		l.Close()
		return "", err
	}
	a.listeners = append(a.listeners, l)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return sock, nil
}

// server is how a connection to id's socket is answered: by the agent at
// the one socket given, or by a keyring of the key files given.
func (a *sshAgents) server(id string, paths []string) (func(net.Conn), error) {
	if len(paths) == 1 {
		if st, err := os.Stat(paths[0]); err == nil && st.Mode()&os.ModeSocket != 0 {
			sock := paths[0]
			return func(c net.Conn) {
				up, err := net.Dial("unix", sock)
				if err != nil {
					return // the client sees its connection closed
				}
				defer up.Close()
				_ = agent.ServeAgent(readOnlyAgent{agent.NewClient(up)}, c)
			}, nil
		}
	}
	kr, ok := a.keyrings[id]
	if !ok {
		var err error
		if kr, err = loadKeys(paths); err != nil {
			return nil, err
		}
		if a.keyrings == nil {
			a.keyrings = map[string]agent.ExtendedAgent{}
		}
		a.keyrings[id] = kr
	}
	return func(c net.Conn) { _ = agent.ServeAgent(readOnlyAgent{kr}, c) }, nil
}

// loadKeys reads unencrypted private key files into a keyring.
func loadKeys(paths []string) (agent.ExtendedAgent, error) {
	kr := agent.NewKeyring().(agent.ExtendedAgent)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		key, err := ssh.ParseRawPrivateKey(b)
		var pe *ssh.PassphraseMissingError
		if errors.As(err, &pe) {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "%s is protected by a passphrase: add it to an agent (ssh-add) and give --ssh ID=SOCKET", p)
		}
		if err != nil {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "%s: not a private key: %v", p, err)
		}
		if err := kr.Add(agent.AddedKey{PrivateKey: key, Comment: p}); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

// close stops serving and removes the sockets.
func (a *sshAgents) close() {
	a.mu.Lock()
	for _, l := range a.listeners {
		l.Close()
	}
	a.listeners = nil
	release := a.release
	a.dir, a.release = "", nil
	a.mu.Unlock()
	if release != nil {
		release()
	}
}

// readOnlyAgent lists and signs, and refuses what would change the agent
// behind it, as BuildKit's: a build step cannot drop the caller's keys,
// add its own or lock the agent.
type readOnlyAgent struct {
	agent.ExtendedAgent
}

var errReadOnly = errors.New("berth build's SSH agent is read-only")

func (readOnlyAgent) Add(agent.AddedKey) error   { return errReadOnly }
func (readOnlyAgent) Remove(ssh.PublicKey) error { return errReadOnly }
func (readOnlyAgent) RemoveAll() error           { return errReadOnly }
func (readOnlyAgent) Lock([]byte) error          { return errReadOnly }
func (readOnlyAgent) Unlock([]byte) error        { return errReadOnly }
func (readOnlyAgent) Extension(string, []byte) ([]byte, error) {
	return nil, agent.ErrExtensionUnsupported
}
