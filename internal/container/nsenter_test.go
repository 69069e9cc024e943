package container

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-runtime/berth/internal/testutil/ccbuild"
	"golang.org/x/sys/unix"
)

// nsenter is berth-nsenter built from its source with the
// undefined-behaviour sanitizer, so that a decoding bug aborts the test
// instead of passing unseen; built once for all the tests that drive it.
var nsenter = ccbuild.Sanitized("berth-nsenter", "cmd/berth-nsenter/*.c")

// reportCheck is berth-nsenter's report.c alone with its driver
// (check/report_main.c), built as nsenter is.
var reportCheck = ccbuild.Sanitized("report-check", "cmd/berth-nsenter/check/report_main.c", "cmd/berth-nsenter/report.c")

// TestMain removes the test's builds of berth-nsenter and its driver.
func TestMain(m *testing.M) {
	code := m.Run()
	nsenter.Remove()
	reportCheck.Remove()
	os.Exit(code)
}

// runNsenterCheck runs berth-nsenter --check with args: it decodes them,
// prints the plan and does nothing else.
func runNsenterCheck(t testing.TB, args []string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(nsenter.Path(t), append([]string{"--check"}, args...)...)
	cmd.Args[0] = "berth-nsenter"
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if ee.ProcessState.ExitCode() == -1 {
			t.Fatalf("berth-nsenter %q died: %v\n%s", args, err, errb.String())
		}
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestNsenterArgsRoundTrip: what the Go side builds is what the C side
// decodes.
func TestNsenterArgsRoundTrip(t *testing.T) {
	userns, pidns := os.Stdin, os.Stdout // any open files: only their slots matter
	pl := &nsenterPlan{userns: userns, pidns: pidns, clone: 0x20000 | 0x40000000}
	files := []uintptr{0, 1, 2, 3}
	argv, opened, err := pl.args(&files, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	closeFiles(opened)
	out, errOut, code := runNsenterCheck(t, argv[1:])
	want := "init=4 sync=3 userns=4 pidns=5 clone=0x40020000 tasks= argv=[berth-init],[3]\n"
	if code != 0 || out != want {
		t.Errorf("decoded %q (exit %d, %s), want %q", out, code, errOut, want)
	}
}

func TestNsenterArgsRefused(t *testing.T) {
	ok := []string{"--init", "5", "--sync", "3", "--userns", "6"}
	tail := []string{"--", "berth-init", "3"}
	cases := map[string][]string{
		"no argv":            ok,
		"empty argv":         append(append([]string{}, ok...), "--"),
		"no init":            append([]string{"--sync", "3", "--userns", "6"}, tail...),
		"no userns":          append([]string{"--init", "5", "--sync", "3"}, tail...),
		"stdio descriptor":   append([]string{"--init", "2", "--sync", "3", "--userns", "6"}, tail...),
		"sign":               append([]string{"--init", "+5", "--sync", "3", "--userns", "6"}, tail...),
		"leading zero":       append([]string{"--init", "05", "--sync", "3", "--userns", "6"}, tail...),
		"huge":               append([]string{"--init", "99999999999", "--sync", "3", "--userns", "6"}, tail...),
		"twice":              append(append([]string{"--init", "7"}, ok...), tail...),
		"unknown option":     append(append([]string{"--root", "7"}, ok...), tail...),
		"missing value":      {"--init"},
		"new user namespace": append(append(append([]string{}, ok...), "--clone", "268435456"), tail...),
		"clone zero":         append(append(append([]string{}, ok...), "--clone", "0"), tail...),
		"pidns and new pid":  append(append(append([]string{}, ok...), "--pidns", "8", "--clone", "536870912"), tail...),
		"too many tasks":     append(append(append([]string{}, ok...), strings.Fields(strings.Repeat("--tasks 9 ", 17))...), tail...),
	}
	for name, args := range cases {
		out, errOut, code := runNsenterCheck(t, args)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "berth-nsenter: bad arguments: ") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s %q: exit %d, stdout %q, stderr %q; want exit 2 and one line", name, args, code, out, errOut)
		}
	}
}

// FuzzNsenterArgs: any argv is decoded or refused with exit 2, never a
// crash or undefined behaviour (the sanitizer aborts on it).
func FuzzNsenterArgs(f *testing.F) {
	f.Add("--init 5 --sync 3 --userns 6 --tasks 7 --tasks 8 --clone 131072 -- berth-init 3")
	f.Add("--init 5 --sync 3 --userns 6 --pidns 9 --clone 2080505856 --")
	f.Add("--tasks --tasks --")
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsRune(line, 0) {
			return
		}
		_, errOut, code := runNsenterCheck(t, strings.Split(line, " "))
		if code != 0 && code != 2 {
			t.Fatalf("%q: exit %d: %s", line, code, errOut)
		}
	})
}

// TestNsenterReportText: berth-nsenter's error reaches berth (takeClone,
// which reads it) with its text as it was: UTF-8 as it is (a path with
// non-ASCII names), quotes, backslashes and control characters escaped
// and unescaped back, an invalid byte as U+FFFD, as the Go stage's
// encoder would have sent it.
func TestNsenterReportText(t *testing.T) {
	for _, c := range []struct {
		name, what string
		errno      syscall.Errno
		want       string
	}{
		{"utf-8 path", "join cgroup /sys/fs/cgroup/café/日本語/tasks", 0, "join cgroup /sys/fs/cgroup/café/日本語/tasks"},
		{"escapes", "quote\" back\\slash\ttab\nnewline\x01 del\x7f", 0, "quote\" back\\slash\ttab\nnewline\x01 del\x7f"},
		{"invalid utf-8", "byte \xff\xc3 cut", 0, "byte \ufffd\ufffd cut"},
		{"with errno", "exec /opt/bérth/berth-init", unix.ENOENT, "exec /opt/bérth/berth-init: " + unix.ENOENT.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := runReportCheck(t, c.errno, c.what)
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("takeClone: %v, want a StartError", err)
			}
			// strerror's first letter is upper-case, Go's lower-case.
			if want := "berth-nsenter: " + c.want; se.Code != 125 || !strings.EqualFold(se.Err.Error(), want) {
				t.Errorf("got exit status %d, %q; want 125, %q", se.Code, se.Err, want)
			}
		})
	}
}

// runReportCheck runs the driver, which reports what (and errno's text)
// as berth-nsenter's die does, and reads its report as berth does.
func runReportCheck(t *testing.T, errno syscall.Errno, what string) error {
	t.Helper()
	bin := reportCheck.Path(t)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "sync"), os.NewFile(uintptr(pair[1]), "sync child")
	defer ours.Close()
	cmd := exec.Command(bin, "3", strconv.Itoa(int(errno)), what)
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		t.Fatal(err)
	}
	// takeClone reaps the driver, as it reaps berth-nsenter.
	defer cmd.Process.Release()
	p := &initProcess{pid: cmd.Process.Pid}
	return p.takeClone(ours)
}

// TestIsChild: a PID the init stage reports is taken only if it names a
// child of this process.
func TestIsChild(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if err := isChild(cmd.Process.Pid); err != nil {
		t.Errorf("own child: %v", err)
	}
	for _, pid := range []int{1, os.Getpid(), os.Getppid()} {
		if isChild(pid) == nil {
			t.Errorf("pid %d taken for a child", pid)
		}
	}
}
