package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-runtime/berth/internal/buildreq"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/terminal"
)

// parseOutput takes --output/-o: type=oci|docker,dest=FILE (an image
// archive, OutputFile), or type=local,dest=DIR and type=tar,dest=FILE|-
// (the final stage's files, Export); a bare DIR is type=local and a bare
// - is type=tar to standard output, as docker build reads them. The
// destination is checked here, before anything is built.
func parseOutput(s string, quiet bool) (string, *buildreq.Export, error) {
	bad := func(format string, a ...any) error {
		return errdefs.New(errdefs.ErrInvalidArgument, "invalid --output %q: "+format, append([]any{s}, a...)...)
	}
	typ, dest := "", ""
	switch {
	case s == "-":
		typ, dest = "tar", "-"
	case !strings.Contains(s, "="):
		typ, dest = "local", s
	default:
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "type":
				typ = v
			case "dest":
				dest = v
			default:
				return "", nil, bad("unknown key %q (type=local|tar|oci|docker,dest=PATH)", k)
			}
		}
	}
	if dest == "" {
		return "", nil, bad("no dest: type=%s,dest=PATH", typ)
	}
	switch typ {
	case "oci", "docker":
		if dest == "-" {
			return "", nil, bad("berth writes type=%s to a file: type=%s,dest=FILE", typ, typ)
		}
		file, err := outputFile(s, dest)
		return file, nil, err
	case "local":
		if dest == "-" {
			return "", nil, bad("type=local writes a directory: dest=DIR (type=tar,dest=- for standard output)")
		}
		dir, err := outputDir(s, dest)
		return "", &buildreq.Export{Type: typ, Dest: dir}, err
	case "tar":
		if dest == "-" {
			if quiet {
				return "", nil, bad("-q prints the image ID on standard output, where the tar goes: drop -q or give dest=FILE")
			}
			if terminal.IsTerminal(os.Stdout) {
				return "", nil, bad("standard output is a terminal: redirect it, or give dest=FILE")
			}
			return "", &buildreq.Export{Type: typ, Dest: "-"}, nil
		}
		file, err := outputFile(s, dest)
		return "", &buildreq.Export{Type: typ, Dest: file}, err
	}
	return "", nil, bad("unknown type %q: want local, tar, oci or docker", typ)
}

// outputFile is a file destination, absolute: its directory must exist
// and it must not be a directory itself.
func outputFile(s, dest string) (string, error) {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(filepath.Dir(abs)); err != nil || !st.IsDir() {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --output %q: the directory %s does not exist", s, filepath.Dir(abs))
	}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --output %q: %s is a directory: name a file", s, dest)
	}
	return abs, nil
}

// outputDir is type=local's destination, absolute: a directory, or a
// name to make one in an existing directory.
func outputDir(s, dest string) (string, error) {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err == nil {
		if !st.IsDir() {
			return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --output %q: %s is not a directory", s, dest)
		}
		return abs, nil
	}
	if st, err := os.Stat(filepath.Dir(abs)); err != nil || !st.IsDir() {
		return "", errdefs.New(errdefs.ErrInvalidArgument, "invalid --output %q: the directory %s does not exist", s, filepath.Dir(abs))
	}
	return abs, nil
}
