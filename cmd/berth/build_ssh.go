package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// parseSSH takes --ssh default|ID[=SOCKET|KEYFILE[,KEYFILE...]], as
// docker build does: an ID alone is the agent of SSH_AUTH_SOCK (agent),
// a path an agent's socket or private key files. Each path is checked
// here and made absolute.
func parseSSH(list []string, agent string) (map[string][]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string][]string{}
	for _, s := range list {
		id, value, _ := strings.Cut(s, "=")
		if id == "" || strings.ContainsAny(id, ",/") {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, "invalid --ssh %q: want default|ID[=SOCKET|KEYFILE[,KEYFILE]]", s)
		}
		paths := strings.Split(value, ",")
		if value == "" {
			if agent == "" {
				return nil, errdefs.New(errdefs.ErrInvalidArgument, "--ssh %s: SSH_AUTH_SOCK is not set: start an ssh-agent, or give --ssh %s=SOCKET|KEYFILE", id, id)
			}
			paths = []string{agent}
		}
		for i, p := range paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, err
			}
			st, err := os.Stat(abs)
			if err != nil || !(st.Mode().IsRegular() || st.Mode()&os.ModeSocket != 0) {
				return nil, errdefs.New(errdefs.ErrInvalidArgument, "--ssh %s: %s is not an agent's socket or a key file", id, p)
			}
			if st.Mode()&os.ModeSocket != 0 && len(paths) > 1 {
				return nil, errdefs.New(errdefs.ErrInvalidArgument, "--ssh %s: %s is a socket: give one agent, or key files", id, p)
			}
			paths[i] = abs
		}
		out[id] = paths
	}
	return out, nil
}
