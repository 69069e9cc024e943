package build

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/archive"
)

func mustParse(t *testing.T, df string) *builder {
	t.Helper()
	stages, meta, err := parse([]byte(df), "Dockerfile", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{stages: stages, o: Options{BuildArgs: map[string]string{"V": "cli"}}, results: map[int]string{}}
	b.meta = b.globalArgs(meta)
	return b
}

func TestRunArgs(t *testing.T) {
	b := mustParse(t, "FROM x\nRUN echo a \\\n  b\nRUN [\"ls\", \"-l\"]\nRUN <<EOF\necho one\necho two\nEOF\nSHELL [\"/bin/bash\", \"-c\"]\n")
	cmds := b.stages[0].Commands
	sh := []string{"/bin/sh", "-c"}
	for i, want := range [][]string{
		{"/bin/sh", "-c", "echo a   b"},
		{"ls", "-l"},
		{"/bin/sh", "-c", "echo one\necho two\n"},
	} {
		got := runArgs(cmds[i].(*instructions.RunCommand), sh)
		if !slices.Equal(got, want) {
			t.Errorf("RUN %d: %q, want %q", i, got, want)
		}
	}
}

func TestNeededStagesAndTarget(t *testing.T) {
	b := mustParse(t, "FROM a AS one\nFROM b AS two\nCOPY --from=one /x /x\nFROM c AS unused\nFROM two AS final\n")
	if got := b.needed(3); !slices.Equal(got, []int{0, 1, 3}) {
		t.Errorf("needed for final: %v", got)
	}
	if got := b.needed(b.stageIndex("one")); !slices.Equal(got, []int{0}) {
		t.Errorf("needed for --target one: %v", got)
	}
	if b.stageIndex("TWO") != 1 || b.stageIndex("1") != 1 || b.stageIndex("nope") != -1 {
		t.Error("stage lookup by name or index")
	}
}

func TestGlobalArgs(t *testing.T) {
	b := mustParse(t, "ARG V=default\nARG BASE=img:${V}\nARG EMPTY\nFROM ${BASE}-$TARGETARCH\n")
	if b.meta["V"] != "cli" || b.meta["BASE"] != "img:cli" || b.meta["TARGETOS"] != "linux" {
		t.Errorf("global args %v", b.meta)
	}
	if got := b.expandMeta(b.stages[0].BaseName); !strings.HasPrefix(got, "img:cli-") || strings.HasSuffix(got, "-") {
		t.Errorf("FROM expands to %q", got)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for df, want := range map[string]string{
		"FROM x\nBOGUS y\n":    "line 2",
		"RUN echo\n":           "",
		"# escape=`\nFROM x\n": "",
	} {
		_, _, err := parse([]byte(df), "Dockerfile", nil)
		if want == "" {
			if df == "RUN echo\n" && err == nil {
				t.Errorf("%q: a Dockerfile without FROM was taken", df)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Dockerfile") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line naming the file and %s", df, err, want)
		}
	}
}

func TestChownChmod(t *testing.T) {
	if o, err := parseChown("1000:50"); err != nil || *o != [2]int{1000, 50} {
		t.Errorf("1000:50: %v %v", o, err)
	}
	if o, err := parseChown("7"); err != nil || *o != [2]int{7, 7} {
		t.Errorf("7: %v %v", o, err)
	}
	if _, err := parseChown("app:app"); err == nil {
		t.Error("names parsed as numbers")
	}
	if m, err := parseChmod("0750"); err != nil || *m != 0o750 {
		t.Errorf("0750: %v %v", m, err)
	}
	for _, bad := range []string{"rwx", "99999", "-1"} {
		if _, err := parseChmod(bad); err == nil {
			t.Errorf("--chmod=%s taken", bad)
		}
	}
}

func TestTailWriter(t *testing.T) {
	tw := &tailWriter{max: 3}
	tw.Write([]byte("1\n2\n3"))
	tw.Write([]byte("\n4\n5 no newline"))
	if got := tw.lines(); !slices.Equal(got, []string{"3", "4", "5 no newline"}) {
		t.Errorf("tail %q", got)
	}
}

// The COPY key covers contents, modes, owners and .dockerignore, not
// times.
func TestCopyDigest(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "a"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "d", "skip"), []byte("s"), 0o644)
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("d/skip\n"), 0o644)
	ig, err := loadIgnore(dir)
	if err != nil {
		t.Fatal(err)
	}
	digest := func(owner *[2]int) string {
		f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cs := &copySpec{src: archive.Root{F: f, Contained: true}, context: true, items: []string{"/d"}, dirs: []bool{true},
			dest: "/app", destIsDir: true, owner: owner, ig: ig, archives: []bool{false}}
		h := sha256.New()
		var buf bytes.Buffer
		if err := cs.stream(h, true); err != nil {
			t.Fatal(err)
		}
		if err := cs.stream(&buf, false); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte("app/skip")) {
			t.Error("an ignored file is in the stream")
		}
		return string(h.Sum(nil))
	}
	first := digest(nil)
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "d", "a"), future, future)
	if digest(nil) != first {
		t.Error("a new mtime changed the COPY key")
	}
	if digest(&[2]int{5, 5}) == first {
		t.Error("--chown did not change the COPY key")
	}
	os.WriteFile(filepath.Join(dir, "d", "skip"), []byte("changed"), 0o644)
	if digest(nil) != first {
		t.Error("an ignored file changed the COPY key")
	}
	os.WriteFile(filepath.Join(dir, "d", "a"), []byte("b"), 0o644)
	if digest(nil) == first {
		t.Error("new contents kept the COPY key")
	}
}

func TestCacheKeyParts(t *testing.T) {
	if cacheKey("a", "bc") == cacheKey("ab", "c") {
		t.Error("cache key parts run together")
	}
}
