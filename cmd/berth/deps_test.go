package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
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

// TestNoReferenceRegexpsLinked: berth parses image references itself
// (internal/image/reference.go): go-containerregistry's name package and
// go-digest compile seven regular expressions as they are initialized,
// and its authn package brings docker/cli's config and logrus, all of it
// paid by every berth command as it starts (docs/design.md).
func TestNoReferenceRegexpsLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch p {
		case "github.com/google/go-containerregistry/pkg/name", "github.com/opencontainers/go-digest",
			"github.com/google/go-containerregistry/pkg/authn", "github.com/sirupsen/logrus":
			t.Errorf("berth links %s: parse references with internal/image, resolve credentials in internal/registry", p)
		}
	}
}

// TestNoTemplateExecution: berth runs no text/template (internal/render
// leaves what it cannot run itself to berth-format). Executing one calls
// methods by name, reflect.Value.MethodByName, and a binary that can do
// that keeps every exported method of every type it links: a larger
// binary and a slower start for every command. cobra imports
// text/template but executes it only for custom usage templates, which
// berth does not set.
func TestNoTemplateExecution(t *testing.T) {
	if testing.Short() {
		t.Skip("builds berth")
	}
	bin := filepath.Join(t.TempDir(), "berth")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Skipf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	for _, sym := range []string{"reflect.Value.MethodByName", "text/template.(*state).evalField", "text/template.(*Template).execute"} {
		if regexp.MustCompile(`(?m) T ` + regexp.QuoteMeta(sym) + `$`).Match(out) {
			t.Errorf("berth links %s: a --format path runs text/template in berth (internal/render must hand it to berth-format)", sym)
		}
	}
}

// TestLinksCPUBusy: internal/cpubusy, whose init gives berth one P when the
// CPUs are all taken as it starts, is imported for its side effect only;
// nothing else would notice it gone (it once came through
// internal/hugeheap, since removed).
func TestLinksCPUBusy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/berth-runtime/berth/internal/cpubusy" {
			return
		}
	}
	t.Error("berth does not link internal/cpubusy: a start among many would run two Ps")
}
