package image

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"alpine":                      "docker.io/library/alpine:latest",
		"user/app:1":                  "docker.io/user/app:1",
		"docker.io/library/alpine:3":  "docker.io/library/alpine:3",
		"index.docker.io/library/a:1": "docker.io/library/a:1",
		"localhost:5000/x":            "localhost:5000/x:latest",
		"ghcr.io/o/r@sha256:" + "0123456789012345678901234567890123456789012345678901234567890123": "ghcr.io/o/r@sha256:0123456789012345678901234567890123456789012345678901234567890123",
	} {
		r, err := ParseName(in)
		if err != nil || r.Name() != want {
			t.Errorf("%s: %v %v, want %s", in, r, err, want)
		}
	}
	if _, err := ParseName("UPPER"); err == nil {
		t.Error("invalid name accepted")
	}
	for in, want := range map[string][2]string{
		"docker.io/library/alpine:latest": {"alpine", "latest"},
		"docker.io/user/app:1":            {"user/app", "1"},
		"localhost:5000/x:2":              {"localhost:5000/x", "2"},
	} {
		if r, tag := SplitName(in); r != want[0] || tag != want[1] {
			t.Errorf("SplitName(%s) = %s %s", in, r, tag)
		}
	}
}

// hostileRefs are references that Docker's grammar refuses and that
// go-containerregistry alone took (or took with an error message that
// broke the one-line rule): path traversal in the registry URL, empty
// components, impossible hosts, tags Docker refuses, control characters.
var hostileRefs = []string{
	"a/../../b", "../x", "localhost:5000/../x", "a//b", "a/b/", "/a", "-a", "a_", "a.-b",
	"-host.com/x", "host-.com/x", "a/b:.tag", "a/b:-tag", "a\nb", "alpine:latest\nFAKE LINE",
	"alpine\x00", "ex ample.com/x", "UPPER", "a@sha256:abc", strings.Repeat("a", 256),
	"a:" + strings.Repeat("t", 129), strings.Repeat("a/", 600) + "a",
}

func TestNamesRefuseHostile(t *testing.T) {
	for _, s := range hostileRefs {
		r, err := ParseName(s)
		if err == nil {
			t.Errorf("%q accepted as %s", s, r.Name())
			continue
		}
		if strings.ContainsAny(err.Error(), "\n\r\x00") {
			t.Errorf("%q: error of several lines or with a NUL: %q", s, err)
		}
	}
	for _, s := range []string{"a__b", "a---b", "[::1]:5000/x", "UPPER.example.com/x", "a:tag@sha256:" + strings.Repeat("a", 64)} {
		if _, err := ParseName(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
}
