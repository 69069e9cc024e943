package build

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/berth-runtime/berth/internal/dockerfile"
)

// TestSSHKeyfileAgentReadOnly: a key file's agent lists and signs with
// the key, and refuses to drop or add keys.
func TestSSHKeyfileAgentReadOnly(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &sshAgents{}
	serve, err := a.server("k", []string{file})
	if err != nil {
		t.Fatal(err)
	}
	c, s := net.Pipe()
	go serve(s)
	client := agent.NewClient(c)
	keys, err := client.List()
	if err != nil || len(keys) != 1 || keys[0].Comment != file {
		t.Fatalf("List: %v %v", keys, err)
	}
	pub, _ := ssh.NewPublicKey(priv.Public())
	sig, err := client.Sign(pub, []byte("data"))
	if err != nil || pub.Verify([]byte("data"), sig) != nil {
		t.Errorf("Sign: %v", err)
	}
	if err := client.RemoveAll(); err == nil {
		t.Errorf("RemoveAll was allowed")
	}
	if err := client.Add(agent.AddedKey{PrivateKey: priv}); err == nil {
		t.Errorf("Add was allowed")
	}
	if keys, _ := client.List(); len(keys) != 1 {
		t.Errorf("keys after refused changes: %v", keys)
	}
	if _, err := a.server("bad", []string{filepath.Join(filepath.Dir(file), "nope")}); err == nil {
		t.Errorf("a missing key file was taken")
	}
}

// TestSSHTargetsAndEnv: default targets count the RUN's ssh mounts;
// SSH_AUTH_SOCK names the first one given.
func TestSSHTargetsAndEnv(t *testing.T) {
	res, err := parser.Parse(strings.NewReader("RUN --mount=type=ssh,id=missing --mount=type=cache,target=/c --mount=type=ssh --mount=type=ssh,id=x,target=/x.sock true\n"))
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		t.Fatal(err)
	}
	c := cmd.(*instructions.RunCommand)
	if err := dockerfile.Expand(c, nil); err != nil {
		t.Fatal(err)
	}
	mounts := instructions.GetMounts(c)
	var got []string
	for _, m := range mounts {
		if m.Type == instructions.MountTypeSSH {
			got = append(got, sshID(m)+" "+sshTarget(m, sshIndex(mounts, m)))
		}
	}
	want := []string{"missing /run/buildkit/ssh_agent.0", "default /run/buildkit/ssh_agent.1", "x /x.sock"}
	if !slices.Equal(got, want) {
		t.Errorf("targets %q, want %q", got, want)
	}
	b := &builder{o: Options{SSH: map[string][]string{"default": {"/s"}}}}
	if env := b.sshEnv(c); strings.Join(env, " ") != "SSH_AUTH_SOCK=/run/buildkit/ssh_agent.1" {
		t.Errorf("env %q", env)
	}
}
