package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/testutil/ccbuild"
)

// feedCheck is berth-monitor's stream splitting and log writer
// (cmd/berth-monitor) behind a driver that reads frames instead of the
// container's pipes (check/feed.c), built with the undefined-behaviour
// sanitizer.
var feedCheck = ccbuild.Sanitized("monitor-feed", "cmd/berth-monitor/check/feed.c", "cmd/berth-monitor/log.c", "cmd/berth-monitor/stream.c")

// TestMain removes the test's build of the driver.
func TestMain(m *testing.M) {
	code := m.Run()
	feedCheck.Remove()
	os.Exit(code)
}

// chunks cuts b into pieces of random sizes, for a reader or frames:
// where reads cut the stream must not matter.
func chunks(r *rand.Rand, b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := 1 + r.Intn(min(len(b), 1+r.Intn(40000)))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

type chunkReader struct{ c [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.c[0])
	if c.c[0] = c.c[0][n:]; len(c.c[0]) == 0 {
		c.c = c.c[1:]
	}
	return n, nil
}

// timeField is the entry's time, which differs between two writers.
var timeField = regexp.MustCompile(`"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z"\}\n`)

// logFiles reads the log and its rotations, times normalized, after
// checking that every time is one a reader parses and near now.
func logFiles(t testing.TB, path string, o Options) []string {
	t.Helper()
	var files []string
	for i := 0; i < max(o.MaxFiles, 1)+1; i++ {
		b, err := os.ReadFile(rotated(path, i))
		if os.IsNotExist(err) {
			files = append(files, "(none)")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			e, ok := decode(line)
			if !ok || time.Since(e.Time).Abs() > time.Hour {
				t.Fatalf("%s: bad entry %q", rotated(path, i), line)
			}
		}
		files = append(files, timeField.ReplaceAllString(string(b), `"time":"T"}`+"\n"))
	}
	return files
}

// compareWithGo writes out and errs (stdout's then stderr's bytes, each
// cut at random) through Writer.Copy and through berth-monitor's writer
// and fails unless the log files are the same but for the times.
func compareWithGo(t testing.TB, r *rand.Rand, out, errs []byte, o Options) {
	t.Helper()
	dir := t.(interface{ TempDir() string }).TempDir()
	goPath, cPath := filepath.Join(dir, "go.log"), filepath.Join(dir, "c.log")
	w, err := Open(goPath, o)
	if err != nil {
		t.Fatal(err)
	}
	var frames bytes.Buffer
	for _, s := range []struct {
		name string
		tag  byte
		b    []byte
	}{{"stdout", 'o', out}, {"stderr", 'e', errs}} {
		c := chunks(r, s.b)
		for _, p := range c {
			frames.WriteByte(s.tag)
			frames.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(p))))
			frames.Write(p)
		}
		frames.WriteByte(s.tag - 'a' + 'A')
		if err := w.Copy(s.name, &chunkReader{c: chunks(r, s.b)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	cmd := exec.Command(feedCheck.Path(t), cPath, fmt.Sprint(o.MaxSize), fmt.Sprint(o.MaxFiles))
	cmd.Stdin = &frames
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("feed: %v\n%s", err, b)
	}
	g, c := logFiles(t, goPath, o), logFiles(t, cPath, o)
	for i := range g {
		if g[i] != c[i] {
			t.Fatalf("log file %d differs:\nGo: %.2000q\nC:  %.2000q", i, g[i], c[i])
		}
	}
}

// TestMonitorLogMatchesGo: berth-monitor's log is internal/logs' byte for
// byte but for the times, on long, partial and empty lines, invalid
// UTF-8, control characters, HTML characters, line separators, and with
// rotation.
func TestMonitorLogMatchesGo(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var every bytes.Buffer
	for i := 0; i < 256; i++ {
		every.WriteByte(byte(i))
	}
	long := strings.Repeat("x", MaxLine-1)
	cases := []struct {
		name      string
		out, errs string
		o         Options
	}{
		{"lines", "hello\nworld\n", "oops\n", DefaultOptions()},
		{"partial", "no newline", "half\nthen", DefaultOptions()},
		{"empty lines", "\n\n\n", "", DefaultOptions()},
		{"every byte", every.String() + "\n" + every.String(), every.String(), DefaultOptions()},
		{"utf-8", "héllo ✓ 𝄞 \u2028 \u2029 \ufffd <a href=\"x\">&</a>\n", "\xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 \xe2\x82\n", DefaultOptions()},
		{"control", "\b\f\r\t\x00\x1f\x7f\"\\\n", "", DefaultOptions()},
		{"long lines", long + "\n" + long + "yz\n" + strings.Repeat("a", 3*MaxLine+5), strings.Repeat("é", MaxLine), DefaultOptions()},
		{"rotation", strings.Repeat("line of the log\n", 200), strings.Repeat("err\n", 50), Options{MaxSize: 1000, MaxFiles: 3}},
		{"rotation one file", strings.Repeat("line\n", 100), "", Options{MaxSize: 500, MaxFiles: 1}},
		{"rotation big entries", strings.Repeat("y", 5*MaxLine), "", Options{MaxSize: 100, MaxFiles: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { compareWithGo(t, r, []byte(c.out), []byte(c.errs), c.o) })
	}
	t.Run("random", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			b := make([]byte, r.Intn(3*MaxLine))
			for j := range b {
				switch r.Intn(4) {
				case 0:
					b[j] = '\n'
				case 1:
					b[j] = byte(r.Intn(256))
				default:
					b[j] = 'a' + byte(r.Intn(26))
				}
			}
			compareWithGo(t, r, b, b[:len(b)/3], Options{MaxSize: int64(500 + r.Intn(20000)), MaxFiles: 1 + r.Intn(3)})
		}
	})
}

// FuzzMonitorLog: whatever the container writes, berth-monitor's log is
// Go's (the seeds run with the unit tests).
func FuzzMonitorLog(f *testing.F) {
	f.Add([]byte("hello\nworld"), []byte("\xff<&>\u2028\n"), uint16(0))
	f.Add([]byte(strings.Repeat("z", MaxLine+3)), []byte{}, uint16(300))
	f.Fuzz(func(t *testing.T, out, errs []byte, maxSize uint16) {
		o := DefaultOptions()
		if maxSize > 0 {
			o = Options{MaxSize: int64(maxSize), MaxFiles: 2}
		}
		compareWithGo(t, rand.New(rand.NewSource(int64(len(out)))), out, errs, o)
	})
}
