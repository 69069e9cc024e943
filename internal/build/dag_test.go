package build

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

// A stage waits for those it uses by FROM, COPY --from and RUN --mount
// from=, and for no other; unneeded stages are skipped.
func TestStageDeps(t *testing.T) {
	df := "ARG B=base\nFROM busybox AS base\nFROM busybox AS tools\nFROM busybox AS unused\n" +
		"FROM ${B} AS app\nCOPY --from=tools /x /x\nRUN --mount=type=bind,from=1,target=/t true\n" +
		"FROM busybox\nCOPY --from=app /x /y\n"
	stages, meta, err := parse([]byte(df), "Dockerfile", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{stages: stages, o: Options{BuildArgs: map[string]string{}}}
	b.meta = b.globalArgs(meta)
	want := map[int][]int{0: nil, 1: nil, 2: nil, 3: {0, 1}, 4: {3}}
	for i, w := range want {
		if got := b.stageDeps(i); !slices.Equal(got, w) {
			t.Errorf("stage %d uses %v, want %v", i, got, w)
		}
	}
	if got := b.needed(4); !slices.Equal(got, []int{0, 1, 3, 4}) {
		t.Errorf("needed %v", got)
	}
}

// A step's output lines are prefixed with its number and time, whole,
// the last one without a newline too.
func TestStepWriter(t *testing.T) {
	var out bytes.Buffer
	b := &builder{o: Options{Progress: &lockedWriter{w: &out}}}
	st := &stageState{step: 7, started: time.Now()}
	w := b.stepOutput(st)
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\r\nthree"))
	w.flush()
	if !regexp.MustCompile(`^#7 0\.\d{3} one\n#7 0\.\d{3} two\n#7 0\.\d{3} three\n$`).Match(out.Bytes()) {
		t.Errorf("output %q", out.String())
	}
}

// Stages at once match .dockerignore at once: patternmatcher compiles a
// pattern on its first match (go test -race finds the race without the
// ignorer's lock).
func TestIgnorerConcurrent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.log\n!keep.log\nbuild/**\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ig, err := loadIgnore(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !ig.ignored("a.log") || ig.ignored("keep.log") || !ig.ignored("build/x/y") {
				t.Error("wrong match")
			}
		}()
	}
	wg.Wait()
}
