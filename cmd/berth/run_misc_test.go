package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestRunHostnameShorthand: on run and create -h is --hostname, as in
// docker run; --help still asks for help, and -h without a value is
// docker's usage error. Other commands keep -h for help.
func TestRunHostnameShorthand(t *testing.T) {
	for _, name := range []string{"run", "create"} {
		c, _, err := newRootCommand().Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ParseFlags([]string{"-h", "box", "img"}); err != nil {
			t.Fatal(err)
		}
		if h, _ := c.Flags().GetString("hostname"); h != "box" {
			t.Errorf("%s -h box: hostname %q", name, h)
		}
		if help := c.Flags().Lookup("help"); help == nil || help.Shorthand != "" {
			t.Errorf("%s: --help has a shorthand", name)
		}
		code, stderr := runCLI(t, name, "-h")
		if want := "berth: flag needs an argument: 'h' in -h\nSee 'berth " + name + " --help'.\n"; code != 125 || stderr != want {
			t.Errorf("berth %s -h: %d %q, want 125 %q", name, code, stderr, want)
		}
		if code, stderr := runCLI(t, name, "--help"); code != 0 || stderr != "" {
			t.Errorf("berth %s --help: %d %q", name, code, stderr)
		}
	}
	if code, stderr := runCLI(t, "ps", "-h"); code != 0 || stderr != "" {
		t.Errorf("berth ps -h: %d %q", code, stderr)
	}
}

// TestRefusedRunOptions: the options berth does not have are refused in
// one line that says why; the accepted forms pass.
func TestRefusedRunOptions(t *testing.T) {
	for args, want := range map[string]string{
		"--runtime runc":                 "--runtime is not supported: berth is the runtime",
		"--storage-opt size=1G":          "--storage-opt is not supported: berth's overlay storage has no per-container size",
		"--volume-driver convoy":         "--volume-driver convoy is not supported: berth has local volumes only",
		"--disable-content-trust=false":  "--disable-content-trust=false is not supported: berth has no content trust",
		"--platform linux/s390x":         "--platform linux/s390x needs emulation berth does not provide",
		"":                               "",
		"--volume-driver local":          "",
		"--disable-content-trust":        "",
		"--platform linux/" + hostArch(): "",
	} {
		fl := pflag.NewFlagSet("run", pflag.ContinueOnError)
		f := &runFlags{}
		addRunFlags(fl, f)
		if err := fl.Parse(append(strings.Fields(args), "img")); err != nil {
			t.Fatal(err)
		}
		err := f.misc.check(fl)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", args, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}
