// Package gitsrc is berth build's git sources: a context given as a git
// URL and ADD of a git repository. It reads the URLs as docker build and
// BuildKit read them (remote#ref:subdir) and checks the tree out with the
// git program, shallowly, in a clean environment. It runs git and nothing
// else: no dependencies, so berth links it for the command line's check.
package gitsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Ref is a git source: the repository, the ref to check out (a branch,
// tag or commit; "" is the remote's HEAD) and the directory in it used.
type Ref struct {
	Remote, Ref, Subdir string
}

// String is the source as it was written.
func (r Ref) String() string {
	s := r.Remote
	if r.Ref != "" || r.Subdir != "" {
		s += "#" + r.Ref
	}
	if r.Subdir != "" {
		s += ":" + r.Subdir
	}
	return s
}

// dotGit says whether a URL's path ends in .git, before any fragment.
func dotGit(s string) bool {
	s, _, _ = strings.Cut(s, "#")
	return strings.HasSuffix(s, ".git")
}

// scpLike says whether s is git's user@host:path form
// (git@github.com:org/repo.git). No regular expressions: berth links
// this package, and compiles nothing at start.
func scpLike(s string) bool {
	user, rest, ok := strings.Cut(s, "@")
	host, p, ok2 := strings.Cut(rest, ":")
	return ok && ok2 && user != "" && host != "" && p != "" &&
		!strings.ContainsAny(user, "/:") && !strings.ContainsAny(host, "/")
}

// IsContext says whether a build's PATH argument is a git repository, as
// docker build decides it: git://, git@, ssh:// and github.com/ sources,
// and http(s) URLs whose path ends in .git.
func IsContext(s string) bool {
	return IsSource(s) || strings.HasPrefix(s, "github.com/")
}

// IsSource says whether an ADD source is a git repository, as BuildKit
// decides it (github.com/ without a scheme is a local path there).
func IsSource(s string) bool {
	switch {
	case strings.HasPrefix(s, "git://"), strings.HasPrefix(s, "ssh://"), scpLike(s):
		return true
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		return dotGit(s)
	}
	return false
}

// Parse splits a git source into its remote and its #ref:subdir.
func Parse(s string) (Ref, error) {
	if !IsContext(s) {
		return Ref{}, fmt.Errorf("%q is not a git repository URL (https://HOST/REPO.git, git@HOST:REPO.git, ssh:// or git://)", s)
	}
	remote, frag, _ := strings.Cut(s, "#")
	if strings.HasPrefix(remote, "github.com/") {
		remote = "https://" + remote
	}
	ref, subdir, _ := strings.Cut(frag, ":")
	if strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\n") {
		return Ref{}, fmt.Errorf("%q: invalid ref %q", s, ref)
	}
	if subdir != "" {
		subdir = strings.TrimPrefix(path.Clean("/"+subdir), "/")
	}
	return Ref{Remote: remote, Ref: ref, Subdir: subdir}, nil
}

// Checkout fetches the ref's tree into dir (a new directory): shallow,
// or whole when the server cannot serve a shallow fetch (git's dumb HTTP
// protocol) or the ref is a commit a shallow fetch cannot name; with
// submodules; without .git unless keepGitDir.
func Checkout(ctx context.Context, r Ref, dir string, keepGitDir bool) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	g := &git{ctx: ctx, dir: dir}
	if _, err := g.run("init", "-q"); err != nil {
		return err
	}
	ref := r.Ref
	if ref == "" {
		ref = "HEAD"
	}
	if err := g.fetch(r.Remote, ref); err != nil {
		return err
	}
	if _, err := g.run("-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, ".gitmodules")); err == nil {
		if _, err := g.run("submodule", "update", "-q", "--init", "--recursive", "--depth", "1"); err != nil {
			if _, err := g.run("submodule", "update", "-q", "--init", "--recursive"); err != nil {
				return err
			}
		}
	}
	if !keepGitDir {
		return os.RemoveAll(filepath.Join(dir, ".git"))
	}
	return nil
}

// fetch fetches ref into FETCH_HEAD, shallow when it can.
func (g *git) fetch(remote, ref string) error {
	_, err := g.run("fetch", "-q", "--depth", "1", "--no-tags", remote, ref)
	var ge *gitError
	if err == nil || !errors.As(err, &ge) {
		return err
	}
	if strings.Contains(ge.stderr, "shallow") {
		// A dumb HTTP server: the whole history, as docker build does.
		_, err = g.run("fetch", "-q", "--no-tags", remote, ref)
	}
	if err != nil && isCommit(ref) {
		// A commit no ref names: every branch and tag, then that commit.
		if _, err = g.run("fetch", "-q", remote, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"); err == nil {
			_, err = g.run("update-ref", "FETCH_HEAD", ref+"^{commit}")
		}
	}
	return err
}

// isCommit says whether ref looks like a commit's (abbreviated) hash.
func isCommit(ref string) bool {
	if len(ref) < 7 || len(ref) > 64 {
		return false
	}
	return strings.Trim(ref, "0123456789abcdef") == ""
}

// git runs the git program in dir.
type git struct {
	ctx context.Context
	dir string
}

// gitError is a git command that failed: its last line says why.
type gitError struct {
	args   []string
	stderr string
}

func (e *gitError) Error() string {
	return fmt.Sprintf("git %s: %s", e.args[0], reason(e.stderr))
}

// reason is the line of git's error output that says why: its first
// fatal or error line, or for a remote it could not read, what ssh said
// before it.
func reason(stderr string) string {
	var prev string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		msg, fatal := strings.CutPrefix(l, "fatal: ")
		if !fatal {
			msg, fatal = strings.CutPrefix(l, "error: ")
		}
		switch {
		case fatal && strings.HasPrefix(msg, "Could not read from remote repository") && prev != "":
			return prev
		case fatal:
			return msg
		case l != "":
			prev = l
		}
	}
	if prev == "" {
		return "failed"
	}
	return prev
}

func (g *git) run(args ...string) (string, error) {
	bin, err := exec.LookPath("git")
	if err != nil {
		return "", errors.New("git sources need the git program: install git (Debian: apt-get install git)")
	}
	cmd := exec.CommandContext(g.ctx, bin, args...)
	cmd.Dir = g.dir
	cmd.Env = Env(os.Environ(), g.dir)
	// git runs helpers (git-remote-http, ssh) that hold its output open:
	// interrupted, the whole group is killed, and Wait gives up on the
	// output after a while.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if g.ctx.Err() != nil {
			return "", g.ctx.Err()
		}
		return "", &gitError{args: args, stderr: stderr.String()}
	}
	return out.String(), nil
}

// Env is git's environment: nothing of the caller's but the proxies
// (as pull takes them) and the SSH agent (for git@ remotes); no system or
// user configuration, no prompts, and only network protocols, so a
// repository's submodules cannot name local files or run commands.
func Env(caller []string, home string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ALLOW_PROTOCOL=https:http:ssh:git",
		"GIT_SSH_COMMAND=ssh -o BatchMode=yes",
	}
	for _, kv := range caller {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "SSH_AUTH_SOCK":
			env = append(env, kv)
		}
	}
	return env
}
