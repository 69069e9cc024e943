package main

import (
	"os"
	"path/filepath"
	"testing"
)

func writeReport(t *testing.T, cases string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "r.xml")
	xml := `<?xml version="1.0"?><testsuites><testsuite name="CRI validation">` +
		`<testcase name="[BeforeSuite]" status="passed"></testcase>` + cases + `</testsuite></testsuites>`
	if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The gate: a case passing with the baseline and not with the candidate
// fails the run; one failing with both, or skipped, does not; and a
// baseline that passed too few cases fails it whatever the candidate did.
func TestCompare(t *testing.T) {
	base := writeReport(t, `<testcase name="[It] a" status="passed"></testcase>`+
		`<testcase name="[It] b" status="failed"><failure message="x"></failure></testcase>`+
		`<testcase name="[It] c" status="skipped"><skipped message="s"></skipped></testcase>`)
	same := writeReport(t, `<testcase name="[It] a" status="passed"></testcase>`+
		`<testcase name="[It] b" status="failed"></testcase>`+
		`<testcase name="[It] c" status="skipped"></testcase>`)
	lost := writeReport(t, `<testcase name="[It] a" status="timedout"></testcase>`+
		`<testcase name="[It] b" status="passed"></testcase>`)
	for _, tc := range []struct {
		name      string
		cand      string
		min, want int
	}{
		{"equal", same, 1, 0},
		{"lost a case", lost, 1, 1},
		{"baseline below minimum", same, 2, 1},
	} {
		if got := compare("runc", base, "berth", tc.cand, tc.min); got != tc.want {
			t.Errorf("%s: compare = %d, want %d", tc.name, got, tc.want)
		}
	}
	empty := writeReport(t, "")
	if got := compare("runc", empty, "berth", same, 0); got != 2 {
		t.Errorf("a report without cases: compare = %d, want 2", got)
	}
}
