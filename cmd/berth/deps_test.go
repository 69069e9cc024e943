package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoRegistryClientLinked: berth leaves the registry client to
// berth-registry (docs/design.md): net/http, crypto/tls and
// go-containerregistry's remote packages would cost every command their
// package initialization and size.
func TestNoRegistryClientLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "net/http", p == "crypto/tls", p == "crypto/x509",
			strings.Contains(p, "go-containerregistry/pkg/v1/remote"),
			p == "github.com/berth-runtime/berth/internal/registry":
			t.Errorf("berth links %s: it belongs in berth-registry (internal/registry/client runs it)", p)
		}
	}
}
