package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"sort"
	"strings"
)

// junitCase is a testcase of ginkgo's JUnit report; status is passed,
// failed, skipped, pending, panicked, interrupted or timedout.
type junitCase struct {
	Name    string `xml:"name,attr"`
	Status  string `xml:"status,attr"`
	Failure *struct {
		Message string `xml:"message,attr"`
	} `xml:"failure"`
}

type junitReport struct {
	Suites []struct {
		Cases []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

// readReport maps each case's name to its status.
func readReport(path string) (map[string]junitCase, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r junitReport
	if err := xml.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cases := map[string]junitCase{}
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			if strings.HasPrefix(c.Name, "[It]") {
				cases[c.Name] = c
			}
		}
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("%s: no test cases", path)
	}
	return cases, nil
}

func counts(cases map[string]junitCase) (passed, failed, skipped int) {
	for _, c := range cases {
		switch c.Status {
		case "passed":
			passed++
		case "skipped", "pending":
			skipped++
		default:
			failed++
		}
	}
	return
}

// compare prints each handler's figures and the cases that pass with the
// baseline and not with the candidate; it fails if there is one, or if
// the baseline passed fewer than minPass cases (a harness that runs
// nothing must not pass).
func compare(baseName, basePath, candName, candPath string, minPass int) int {
	base, err := readReport(basePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crihelper:", err)
		return 2
	}
	cand, err := readReport(candPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crihelper:", err)
		return 2
	}
	for _, h := range []struct {
		name  string
		cases map[string]junitCase
	}{{baseName, base}, {candName, cand}} {
		p, f, s := counts(h.cases)
		fmt.Printf("critest %-6s %d passed, %d failed, %d skipped (of %d ran: %d/%d)\n", h.name, p, f, s, p+f, p, p+f)
	}
	var lost, failBoth []string
	for name, c := range base {
		cc := cand[name]
		if c.Status == "passed" && cc.Status != "passed" {
			lost = append(lost, fmt.Sprintf("%s (%s)", name, cc.Status))
		}
		if c.Status != "passed" && c.Status != "skipped" && c.Status != "pending" {
			failBoth = append(failBoth, fmt.Sprintf("%s (%s: %s)", name, baseName, c.Status))
		}
	}
	sort.Strings(lost)
	sort.Strings(failBoth)
	if len(failBoth) > 0 {
		fmt.Printf("not passing with %s (not gated):\n", baseName)
		for _, n := range failBoth {
			fmt.Println("  " + n)
		}
	}
	fmt.Printf("passing with %s, not with %s: %d\n", baseName, candName, len(lost))
	for _, n := range lost {
		fmt.Println("  " + n)
	}
	p, _, _ := counts(base)
	fmt.Printf("%d passed, %d failed\n", p-len(lost), len(lost))
	if p < minPass {
		fmt.Printf("%s passed %d cases, fewer than the %d expected: the harness is broken\n", baseName, p, minPass)
		return 1
	}
	if len(lost) > 0 {
		return 1
	}
	return 0
}
