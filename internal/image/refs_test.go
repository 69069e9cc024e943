package image

import "testing"

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
		if err != nil || canonical(r) != want {
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
