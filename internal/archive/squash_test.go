package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// node is a path of a model tree: what the tests compare.
type node struct {
	typ  byte
	mode int64
	data string
}

type mtree map[string]node

// applyLayer applies an OCI layer to t as the spec says: its whiteouts
// and opaque markers to the tree below it (not to its own entries), then
// its entries, a non-directory replacing whatever was there.
func applyLayer(t mtree, layer []byte) error {
	removeBelow := func(p string, self bool) {
		for k := range t {
			if (self && k == p) || strings.HasPrefix(k, p+"/") || (p == "" && k != "") {
				delete(t, k)
			}
		}
	}
	tr := tar.NewReader(bytes.NewReader(layer))
	type ent struct {
		hdr  *tar.Header
		data string
	}
	var ents []ent
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(tr)
		ents = append(ents, ent{hdr, string(b)})
	}
	for _, e := range ents {
		if target, isOpaque, ok := marker(entryPath(e.hdr.Name)); ok && (target != "" || isOpaque) {
			removeBelow(target, !isOpaque)
		}
	}
	for _, e := range ents {
		p := entryPath(e.hdr.Name)
		if _, _, ok := marker(p); ok || p == "" {
			continue
		}
		for a := path.Dir(p); a != "."; a = path.Dir(a) {
			if n, ok := t[a]; !ok || n.typ != tar.TypeDir {
				return fmt.Errorf("%s: parent %s missing", p, a)
			}
		}
		n := node{typ: e.hdr.Typeflag, mode: e.hdr.Mode, data: e.data}
		if n.typ == tar.TypeLink {
			target, ok := t[entryPath(e.hdr.Linkname)]
			if !ok {
				return fmt.Errorf("%s: link target %s missing", p, e.hdr.Linkname)
			}
			n = target
		}
		if old, ok := t[p]; ok && (old.typ != tar.TypeDir || n.typ != tar.TypeDir) {
			removeBelow(p, true)
		}
		t[p] = n
	}
	return nil
}

// layerOf writes entries: "d:path:mode", "f:path:data", "w:path" (a
// whiteout), "o:dir" (opaque), "l:path:target".
func layerOf(t *testing.T, entries ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		f := strings.SplitN(e, ":", 3)
		var hdr tar.Header
		data := ""
		switch f[0] {
		case "d":
			var m int64 = 0o755
			if len(f) > 2 {
				fmt.Sscanf(f[2], "%o", &m)
			}
			hdr = tar.Header{Name: f[1] + "/", Typeflag: tar.TypeDir, Mode: m}
		case "f":
			data = f[2]
			hdr = tar.Header{Name: f[1], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}
		case "w":
			dir, base := path.Split(f[1])
			hdr = tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg}
		case "o":
			hdr = tar.Header{Name: path.Join(f[1], opaqueWhiteout), Typeflag: tar.TypeReg}
		case "l":
			hdr = tar.Header{Name: f[1], Typeflag: tar.TypeLink, Linkname: f[2]}
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, data)
	}
	tw.Close()
	return buf.Bytes()
}

// checkSquash applies layers one by one and their squash in one, over
// base, and compares; over scratch too, squashed without markers.
func checkSquash(t *testing.T, base mtree, layers [][]byte) []byte {
	t.Helper()
	open := func(i int) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layers[i])), nil }
	for _, overBase := range []bool{true, false} {
		var out bytes.Buffer
		if err := Squash(&out, len(layers), open, overBase); err != nil {
			t.Fatal(err)
		}
		want, got := mtree{}, mtree{}
		if overBase {
			for k, v := range base {
				want[k], got[k] = v, v
			}
		}
		for _, l := range layers {
			if err := applyLayer(want, l); err != nil {
				t.Fatalf("a layer: %v", err)
			}
		}
		if err := applyLayer(got, out.Bytes()); err != nil {
			t.Fatalf("the squashed layer: %v\n%s", err, listing(out.Bytes()))
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
			var ls []string
			for _, l := range layers {
				ls = append(ls, listing(l))
			}
			t.Fatalf("overBase %v: squashed gives\n%v\nlayers give\n%v\nsquashed layer:\n%s\nlayers:\n%s", overBase, sorted(got), sorted(want), listing(out.Bytes()), strings.Join(ls, "\n--\n"))
		}
		if overBase {
			return out.Bytes()
		}
	}
	return nil
}

func sorted(t mtree) []string {
	var out []string
	for k, v := range t {
		out = append(out, fmt.Sprintf("%s %c %o %q", k, v.typ, v.mode, v.data))
	}
	sort.Strings(out)
	return out
}

func listing(layer []byte) string {
	var out []string
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		out = append(out, fmt.Sprintf("%s %c %o", hdr.Name, hdr.Typeflag, hdr.Mode))
	}
	return strings.Join(out, "\n")
}

func baseTree() mtree {
	return mtree{
		"etc": {tar.TypeDir, 0o755, ""}, "etc/passwd": {tar.TypeReg, 0o644, "root"}, "etc/group": {tar.TypeReg, 0o644, "g"},
		"usr": {tar.TypeDir, 0o755, ""}, "usr/lib": {tar.TypeDir, 0o755, ""}, "usr/lib/a.so": {tar.TypeReg, 0o644, "a"},
		"var": {tar.TypeDir, 0o755, ""}, "var/cache": {tar.TypeDir, 0o755, ""}, "var/cache/x": {tar.TypeReg, 0o644, "x"},
	}
}

// TestSquash: the cases a build's layers make: files added, changed and
// deleted (in the base and in an earlier layer), a directory deleted and
// made again, an opaque directory, a file replacing a directory and back,
// a directory's mode changed later, hard links.
func TestSquash(t *testing.T) {
	cases := map[string][][]byte{
		"add and change": {
			layerOf(t, "d:app", "f:app/one:1", "f:app/two:2"),
			layerOf(t, "d:app", "f:app/two:2b", "d:etc", "f:etc/passwd:root+app"),
		},
		"delete from base and from a layer": {
			layerOf(t, "d:tmp", "f:tmp/scratch:s"),
			layerOf(t, "d:tmp", "w:tmp/scratch", "d:etc", "w:etc/group", "d:usr/lib", "w:usr/lib/a.so"),
		},
		"directory deleted, made again": {
			layerOf(t, "d:var", "w:var/cache"),
			layerOf(t, "d:var", "d:var/cache:700", "f:var/cache/new:n"),
		},
		"opaque directory": {
			layerOf(t, "d:usr", "d:usr/lib", "f:usr/lib/b.so:b"),
			layerOf(t, "d:usr", "d:usr/lib", "o:usr/lib", "f:usr/lib/c.so:c"),
		},
		"file over directory and back": {
			layerOf(t, "d:etc", "f:etc/x:1"),
			layerOf(t, "f:etc:not a dir"),
			layerOf(t, "w:etc"),
			layerOf(t, "d:etc:750", "f:etc/y:y"),
		},
		"mode changed later": {
			layerOf(t, "d:srv", "d:srv/data", "f:srv/data/f:f"),
			layerOf(t, "d:srv:700"),
		},
		"hard links": {
			layerOf(t, "d:bin", "f:bin/tool:t", "l:bin/alias:bin/tool"),
			layerOf(t, "d:bin", "f:bin/tool:t2", "l:bin/alias2:bin/tool"),
		},
		"deleted twice": {
			layerOf(t, "d:etc", "w:etc/passwd"),
			layerOf(t, "d:etc", "f:etc/passwd:new"),
			layerOf(t, "d:etc", "w:etc/passwd"),
		},
	}
	for name, layers := range cases {
		t.Run(name, func(t *testing.T) { checkSquash(t, baseTree(), layers) })
	}
	// Whiteouts for what the base holds.
	out := checkSquash(t, baseTree(), cases["delete from base and from a layer"])
	if l := listing(out); !strings.Contains(l, "etc/.wh.group") || !strings.Contains(l, "usr/lib/.wh.a.so") {
		t.Errorf("squashed:\n%s", l)
	}
}

// TestSquashRandom: random layers over a random base give, squashed, the
// tree they give one by one.
func TestSquashRandom(t *testing.T) {
	seed, rounds := int64(14), 300
	if v := os.Getenv("SQUASH_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
		rounds = 20000
	}
	rng := rand.New(rand.NewSource(seed))
	names := []string{"a", "b", "c"}
	randPath := func() string {
		depth := 1 + rng.Intn(3)
		parts := make([]string, depth)
		for i := range parts {
			parts[i] = names[rng.Intn(len(names))]
		}
		return strings.Join(parts, "/")
	}
	for round := 0; round < rounds; round++ {
		cur := mtree{}
		var layers [][]byte
		base := mtree{}
		for step := 0; step < 1+rng.Intn(5); step++ {
			var ents []string
			seen := map[string]bool{}
			// Parent directories the layer writes, as an overlay's upper
			// layer has them.
			parents := func(p string) {
				var chain []string
				for a := path.Dir(p); a != "."; a = path.Dir(a) {
					chain = append([]string{a}, chain...)
				}
				for _, a := range chain {
					if !seen[a] {
						seen[a] = true
						ents = append(ents, "d:"+a)
					}
				}
			}
			var files []string
			for op := 0; op < 1+rng.Intn(4); op++ {
				p := randPath()
				if seen[p] {
					continue
				}
				switch rng.Intn(5) {
				case 0:
					parents(p)
					seen[p] = true
					files = append(files, p)
					ents = append(ents, fmt.Sprintf("f:%s:%d", p, rng.Intn(100)))
				case 4:
					if len(files) > 0 {
						parents(p)
						seen[p] = true
						ents = append(ents, fmt.Sprintf("l:%s:%s", p, files[rng.Intn(len(files))]))
					}
				case 1:
					parents(p)
					seen[p] = true
					ents = append(ents, fmt.Sprintf("d:%s:%o", p, 0o700+rng.Intn(2)*0o55))
				case 2:
					if _, ok := cur[p]; ok {
						parents(p)
						ents = append(ents, "w:"+p)
					}
				case 3:
					if n, ok := cur[p]; ok && n.typ == tar.TypeDir {
						parents(p)
						if !seen[p] {
							seen[p] = true
							ents = append(ents, "d:"+p)
						}
						ents = append(ents, "o:"+p)
					}
				}
			}
			l := layerOf(t, ents...)
			next := mtree{}
			for k, v := range cur {
				next[k] = v
			}
			if err := applyLayer(next, l); err != nil {
				continue // a layer the model cannot apply (a parent gone): not one a build makes
			}
			cur = next
			if step == 0 {
				for k, v := range next {
					base[k] = v
				}
				continue
			}
			layers = append(layers, l)
		}
		if len(layers) > 0 {
			checkSquash(t, base, layers)
		}
	}
}
