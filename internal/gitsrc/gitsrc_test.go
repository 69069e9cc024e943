package gitsrc

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ctx     bool // a context, not an ADD source
		want    Ref
		invalid bool
	}{
		{in: "https://host/org/repo.git", want: Ref{Remote: "https://host/org/repo.git"}},
		{in: "https://host/org/repo.git#v1:sub/dir", want: Ref{Remote: "https://host/org/repo.git", Ref: "v1", Subdir: "sub/dir"}},
		{in: "http://127.0.0.1:80/r.git#:../up", want: Ref{Remote: "http://127.0.0.1:80/r.git", Subdir: "up"}},
		{in: "git@github.com:org/repo.git#main", want: Ref{Remote: "git@github.com:org/repo.git", Ref: "main"}},
		{in: "ssh://git@host/repo", want: Ref{Remote: "ssh://git@host/repo"}},
		{in: "git://host/repo#abc1234", want: Ref{Remote: "git://host/repo", Ref: "abc1234"}},
		{in: "github.com/org/repo#dev", ctx: true, want: Ref{Remote: "https://github.com/org/repo", Ref: "dev"}},
		{in: "https://host/file.tar.gz", invalid: true},
		{in: "./repo.git", invalid: true},
		{in: "https://host/r.git#--upload-pack=x", invalid: true},
	} {
		got, err := Parse(tc.in)
		if tc.invalid {
			if err == nil {
				t.Errorf("%s: parsed as %+v", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
		if IsSource(tc.in) == tc.ctx {
			t.Errorf("%s: IsSource %v", tc.in, !tc.ctx)
		}
	}
}

func TestEnv(t *testing.T) {
	env := Env([]string{"HOME=/root", "GIT_DIR=/etc", "https_proxy=http://p:3128", "SSH_AUTH_SOCK=/tmp/a", "GIT_SSH_COMMAND=evil"}, "/tmp/h")
	for _, want := range []string{"HOME=/tmp/h", "https_proxy=http://p:3128", "SSH_AUTH_SOCK=/tmp/a", "GIT_CONFIG_NOSYSTEM=1", "GIT_SSH_COMMAND=ssh -o BatchMode=yes"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %v", want, env)
		}
	}
	for _, e := range env {
		if strings.HasPrefix(e, "GIT_DIR=") || e == "HOME=/root" || e == "GIT_SSH_COMMAND=evil" {
			t.Errorf("the caller's %s is passed on", e)
		}
	}
}

func TestReason(t *testing.T) {
	for in, want := range map[string]string{
		"ssh: connect to host h port 22: Connection refused\r\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n": "ssh: connect to host h port 22: Connection refused",
		"fatal: couldn't find remote ref nosuch\n":        "couldn't find remote ref nosuch",
		"warning: x\nerror: pathspec 'y' did not match\n": "pathspec 'y' did not match",
		"": "failed",
	} {
		if got := reason(in); got != want {
			t.Errorf("reason(%q) = %q, want %q", in, got, want)
		}
	}
}
