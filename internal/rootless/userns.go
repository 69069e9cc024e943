package rootless

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-runtime/berth/internal/selfexe"
	"golang.org/x/sys/unix"
)

// envStage tells a berth process that it runs in the user namespace of a
// rootless berth: "wait:UID:GID" while its parent writes the ID mappings,
// then "in:UID:GID" after it has re-executed itself as the namespace's
// root. UID and GID are the user's on the host.
const envStage = "_BERTH_USERNS"

// ErrNoNewuidmap means subordinate IDs are listed for the user but the
// setuid helpers that map them are not installed.
var ErrNoNewuidmap = errors.New("newuidmap and newgidmap are needed to map the subordinate IDs of /etc/subuid and /etc/subgid: install Debian's uidmap package")

// Active reports whether berth runs for an ordinary user: as that user,
// or inside the user namespace rootless berth made for it.
func Active() bool { return os.Geteuid() != 0 || Inside() }

// Inside reports whether this process is rootless berth re-executed as
// root of its user namespace.
func Inside() bool {
	_, _, ok := insideIDs()
	return ok
}

// HostUID is the user's uid on the host: its own outside, the recorded one
// inside berth's user namespace.
func HostUID() int {
	if uid, _, ok := insideIDs(); ok {
		return uid
	}
	return os.Geteuid()
}

func insideIDs() (uid, gid int, ok bool) {
	v, found := os.LookupEnv(envStage)
	if !found || os.Geteuid() != 0 {
		return 0, 0, false
	}
	stage, uid, gid, err := parseStage(v)
	if err != nil || stage != "in" {
		return 0, 0, false
	}
	// Root of the host has the identity map: the variable is not ours.
	if m, err := os.ReadFile("/proc/self/uid_map"); err != nil || isIdentityMap(string(m)) {
		return 0, 0, false
	}
	return uid, gid, true
}

func parseStage(v string) (stage string, uid, gid int, err error) {
	f := strings.Split(v, ":")
	if len(f) != 3 {
		return "", 0, 0, fmt.Errorf("%s=%q: want STAGE:UID:GID", envStage, v)
	}
	if uid, err = strconv.Atoi(f[1]); err == nil {
		gid, err = strconv.Atoi(f[2])
	}
	return f[0], uid, gid, err
}

// isIdentityMap reports whether uid_map maps every ID to itself (the
// initial user namespace).
func isIdentityMap(m string) bool {
	f := strings.Fields(m)
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

// Environ is the environment a berth process started inside berth's user
// namespace needs to know it is there (a container's monitor): nil
// elsewhere.
func Environ() []string {
	if !Inside() {
		return nil
	}
	return []string{envStage + "=" + os.Getenv(envStage)}
}

// ContinueStage is the first thing berth's main does. In the first stage
// of entering the user namespace it waits for its parent to write the ID
// mappings and re-executes itself, now the namespace's root with all its
// capabilities (a process exec'd before the mapping exists runs as an
// unmapped user, which loses them at execve). Otherwise it returns.
func ContinueStage() {
	v, found := os.LookupEnv(envStage)
	if !found || !strings.HasPrefix(v, "wait:") {
		return
	}
	sync := os.NewFile(3, "userns-sync")
	var b [1]byte
	n, _ := sync.Read(b[:])
	sync.Close()
	if n != 1 {
		os.Exit(125) // the parent failed, and said why
	}
	os.Setenv(envStage, "in"+strings.TrimPrefix(v, "wait"))
	err := unix.Exec("/proc/self/exe", os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "berth: re-execute in the user namespace: %v\n", err)
	os.Exit(125)
}

// Mapping is how the user's IDs map into berth's user namespace.
type Mapping struct {
	UID, GID       int
	SubUID, SubGID []IDRange
	// Newuidmap and Newgidmap are the helpers' paths, when found.
	Newuidmap, Newgidmap string
}

// OwnOnly reports whether only the user's own IDs can be mapped.
func (m Mapping) OwnOnly() bool { return len(m.SubUID) == 0 || len(m.SubGID) == 0 }

// UserMapping reads the calling user's subordinate IDs and finds the
// helpers that map them.
func UserMapping() (Mapping, error) {
	m := Mapping{UID: os.Getuid(), GID: os.Getgid()}
	name := strconv.Itoa(m.UID)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	m.SubUID = readSubIDs("/etc/subuid", name, m.UID)
	m.SubGID = readSubIDs("/etc/subgid", name, m.UID)
	if m.OwnOnly() {
		return m, nil
	}
	var err1, err2 error
	m.Newuidmap, err1 = exec.LookPath("newuidmap")
	m.Newgidmap, err2 = exec.LookPath("newgidmap")
	if err1 != nil || err2 != nil {
		return m, ErrNoNewuidmap
	}
	return m, nil
}

func readSubIDs(path, name string, id int) []IDRange {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return ParseSubIDs(f, name, id)
}

// Enter runs this berth command again inside a new user namespace and
// mount namespace, where the user is root and its subordinate IDs (if
// any) are mapped from 1 on, and returns the exit status to exit with.
// The child is forked into the namespaces at once, waits while this
// process maps its IDs (newuidmap and newgidmap, setuid helpers that
// check /etc/subuid and /etc/subgid; or, with no subordinate IDs, the
// user's own ID written directly, which the kernel allows), then
// re-executes itself (ContinueStage). Go cannot unshare a user namespace
// in its multi-threaded process, hence the child.
func Enter(m Mapping) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The stages this process finds to be host root's are handed over
	// open: inside, their owner is unmapped and shows as nobody.
	stages, vouch := selfexe.Vouch(3 + 1)
	defer closeAll(stages)
	cmd.ExtraFiles = append([]*os.File{r}, stages...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=wait:%d:%d", envStage, m.UID, m.GID), vouch)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS) {
			return 0, fmt.Errorf("create a user namespace: %w (is user.max_user_namespaces 0, or kernel.unprivileged_userns_clone off?)", err)
		}
		return 0, fmt.Errorf("create a user namespace: %w", err)
	}
	r.Close()
	closeAll(stages)
	if err := writeMappings(cmd.Process.Pid, m); err != nil {
		w.Close() // the child exits 125 at once
		_ = cmd.Wait()
		return 0, err
	}
	if _, err := w.Write([]byte{1}); err != nil {
		_ = cmd.Wait()
		return 0, fmt.Errorf("start berth in its user namespace: %w", err)
	}
	w.Close()
	stop := forwardSignals(cmd.Process)
	err = cmd.Wait()
	stop()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// writeMappings maps the user's IDs in the user namespace of process pid.
func writeMappings(pid int, m Mapping) error {
	if m.OwnOnly() {
		proc := filepath.Join("/proc", strconv.Itoa(pid))
		for _, f := range []struct{ name, text string }{
			{"setgroups", "deny"},
			{"uid_map", fmt.Sprintf("0 %d 1", m.UID)},
			{"gid_map", fmt.Sprintf("0 %d 1", m.GID)},
		} {
			if err := os.WriteFile(filepath.Join(proc, f.name), []byte(f.text), 0); err != nil {
				return fmt.Errorf("map the user's own ID in its user namespace: %w", err)
			}
		}
		return nil
	}
	for _, h := range []struct {
		path   string
		own    int
		ranges []IDRange
		file   string
	}{{m.Newuidmap, m.UID, m.SubUID, "/etc/subuid"}, {m.Newgidmap, m.GID, m.SubGID, "/etc/subgid"}} {
		args := append([]string{strconv.Itoa(pid)}, mapArgs(h.own, h.ranges)...)
		out, err := exec.Command(h.path, args...).CombinedOutput()
		if err != nil {
			msg := strings.TrimSpace(string(bytes.TrimPrefix(out, []byte(filepath.Base(h.path)+": "))))
			return fmt.Errorf("%s %s: %v: %s (check the user's lines in %s, and that %s is setuid root)", filepath.Base(h.path), strings.Join(args, " "), err, msg, h.file, h.path)
		}
	}
	return nil
}

// forwardSignals passes the signals this process gets on to p until stop
// is called. Signals a terminal sends to its whole foreground process
// group reach p already and are not sent twice.
func forwardSignals(p *os.Process) (stop func()) {
	ch := make(chan os.Signal, 8)
	sigs := []os.Signal{unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGCONT}
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				if (s == unix.SIGINT || s == unix.SIGQUIT) && inForeground() {
					continue
				}
				_ = p.Signal(s)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// inForeground reports whether this process is in the foreground process
// group of the terminal on its stdin, which gets the terminal's signals.
func inForeground() bool {
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}
