package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The running steps are a block redrawn in place with their last output;
// an ended step leaves one line above it; a failed one its output too.
func TestStepsRender(t *testing.T) {
	var out bytes.Buffer
	s := NewSteps(&out, time.Hour)
	clock := time.Unix(0, 0)
	s.now = func() time.Time { return clock }
	s.start = clock
	s.Write([]byte("#1 [a 1/2] FROM img\n#1 DONE 0.0s\n#2 [a 2/2] RUN make\n#3 [b 2/2] RUN t"))
	s.Write([]byte("est\n#2 0.100 compiling\n"))
	clock = clock.Add(1500 * time.Millisecond)
	s.Write([]byte("#3 0.200 failing\n#2 DONE 1.5s\n#3 ERROR: exit 1\nnote: plain\n"))
	s.Close()
	got := out.String()
	for _, want := range []string{
		"=> [a 1/2] FROM img  0.0s\n",
		"[+] Building 0.0s (1 done, 2 running)\n => [a 2/2] RUN make  0.0s\n    > compiling\n => [b 2/2] RUN test  0.0s\n",
		"\x1b[4A\r\x1b[J=> [a 2/2] RUN make  1.5s\n=> ERROR [b 2/2] RUN test  1.5s\n   > failing\nnote: plain\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%q", want, got)
		}
	}
	if strings.Count(got, "[+] Building") != 2 || strings.HasSuffix(got, " running)\n") {
		t.Errorf("the block was not cleared at the end:\n%q", got)
	}
}
