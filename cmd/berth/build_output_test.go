package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseOutput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, file, typ, dest, err string
	}{
		{in: "type=docker,dest=" + dir + "/i.tar", file: dir + "/i.tar"},
		{in: dir + "/out", typ: "local", dest: dir + "/out"},
		{in: "type=local,dest=" + dir, typ: "local", dest: dir},
		{in: "type=tar,dest=" + dir + "/fs.tar", typ: "tar", dest: dir + "/fs.tar"},
		{in: "type=local,dest=" + file, err: "is not a directory"},
		{in: "type=local,dest=" + dir + "/no/such", err: "does not exist"},
		{in: "type=tar,dest=" + dir, err: "is a directory"},
		{in: "type=oci,dest=-", err: "to a file"},
		{in: "type=local,dest=-", err: "writes a directory"},
		{in: "type=registry,dest=x", err: "unknown type"},
		{in: "type=tar,compression=gzip", err: "unknown key"},
		{in: "type=tar", err: "no dest"},
	} {
		f, x, err := parseOutput(tc.in, false)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		typ, dest := "", ""
		if x != nil {
			typ, dest = x.Type, x.Dest
		}
		if f != tc.file || typ != tc.typ || dest != tc.dest {
			t.Errorf("%s: %q %q %q", tc.in, f, typ, dest)
		}
	}
	if _, _, err := parseOutput("-", true); err == nil || !strings.Contains(err.Error(), "-q") {
		t.Errorf("-o - with -q: %v", err)
	}
}
