// Package checkpoint drives CRIU (criu(8)) to checkpoint a container's
// process tree into an image directory and to restore it from there. It
// knows CRIU's command line and its image directory, not containers:
// internal/container says which process, root and cgroup.
//
// CRIU is run through its command line, not its RPC mode (go-criu): the
// options berth needs are all on the command line, the images are the
// same, and it needs no protobuf module. It is never on a start path.
package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultCriu is the CRIU binary used when none is given.
const DefaultCriu = "criu"

// ErrUnsupported means CRIU is missing or cannot work on this host, for
// example a CRIU older than the kernel's vDSO layout.
var ErrUnsupported = errors.New("checkpoint/restore is not available")

// ErrNoImage means an image directory holds no checkpoint.
var ErrNoImage = errors.New("no checkpoint image")

// Options are runc's checkpoint and restore flags.
type Options struct {
	ImagePath  string // the image directory (default: ./checkpoint)
	WorkPath   string // CRIU's logs and work files (default: ImagePath)
	ParentPath string // a pre-dump's images, relative to ImagePath
	// LeaveRunning keeps the container running after the dump.
	LeaveRunning bool
	// PreDump dumps memory only and leaves the container running.
	PreDump        bool
	TCPEstablished bool
	ExtUnixSk      bool
	ShellJob       bool
	FileLocks      bool
	LazyPages      bool
	AutoDedup      bool
	// PageServer is ADDRESS:PORT of a CRIU page server.
	PageServer string
	// ManageCgroupsMode is soft (CRIU's default), full, strict or ignore.
	ManageCgroupsMode string
	// EmptyNs lists namespaces that are created but not restored; the
	// network namespace always is, as runc does it (runc does not manage
	// network devices).
	EmptyNs []string
}

// Validate checks the flags that do not depend on the container.
func (o *Options) Validate() error {
	switch o.ManageCgroupsMode {
	case "", "soft", "full", "strict", "ignore":
	default:
		return fmt.Errorf("invalid --manage-cgroups-mode %q: use soft, full, strict or ignore", o.ManageCgroupsMode)
	}
	for _, ns := range o.EmptyNs {
		if ns != "network" {
			return fmt.Errorf("--empty-ns %q is not supported: only network", ns)
		}
	}
	if o.PageServer != "" {
		host, port, err := net.SplitHostPort(o.PageServer)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("invalid --page-server %q: use ADDRESS:PORT", o.PageServer)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("invalid --page-server port %q", port)
		}
	}
	if o.ParentPath != "" && filepath.IsAbs(o.ParentPath) {
		return errors.New("--parent-path must be relative to --image-path")
	}
	return nil
}

// Mount is an external mount: one whose source is outside the
// container, named in the images by Key. At a dump Val is the key
// recorded for the mount point Key; at a restore Val is the host path
// that replaces the key Key.
type Mount struct{ Key, Val string }

// Dump is the process tree to checkpoint.
type Dump struct {
	Pid  int
	Root string // the container's root directory on the host
	// FreezeCgroup is the cgroup directory CRIU freezes during the dump
	// (v1: the freezer hierarchy's), so no process escapes it.
	FreezeCgroup string
	External     []Mount
	// NetNsInode is set when the container joined an existing network
	// namespace: it is recorded as external, and must be given back.
	NetNsInode uint64
	// Files are external files (file[MNT:INODE]), the init's stdio.
	Files []string
}

// Restore is what a restored tree is put into.
type Restore struct {
	Root       string // a mount of the container's root filesystem
	CgroupRoot string // the container's cgroup, relative to the hierarchy roots
	PidFile    string // CRIU writes the restored init's PID here
	External   []Mount
	// Inherit maps a key of the images (pipe:[INODE], extRootNetNS) to
	// the file descriptor in CRIU's process that replaces it.
	Inherit map[string]int
}

// extNetNs names the network namespace a container joined.
const extNetNs = "extRootNetNS"

// DumpArgs is the criu command line for a dump or pre-dump.
func DumpArgs(o Options, d Dump) []string {
	action := "dump"
	if o.PreDump {
		action = "pre-dump"
	}
	args := []string{action, "--tree", strconv.Itoa(d.Pid)}
	args = append(args, commonArgs(o, action+".log")...)
	if d.Root != "" {
		args = append(args, "--root", d.Root)
	}
	if o.LeaveRunning && !o.PreDump {
		args = append(args, "--leave-running")
	}
	if d.FreezeCgroup != "" {
		args = append(args, "--freeze-cgroup", d.FreezeCgroup)
	}
	if o.ParentPath != "" {
		args = append(args, "--prev-images-dir", o.ParentPath, "--track-mem")
	}
	if o.PreDump {
		args = append(args, "--track-mem")
	}
	if o.PageServer != "" {
		host, port, _ := net.SplitHostPort(o.PageServer)
		args = append(args, "--page-server", "--address", host, "--port", port)
	}
	if !o.PreDump {
		for _, m := range d.External {
			args = append(args, "--external", "mnt["+m.Key+"]:"+m.Val)
		}
		for _, f := range d.Files {
			args = append(args, "--external", f)
		}
		if d.NetNsInode != 0 {
			args = append(args, "--external", fmt.Sprintf("net[%d]:%s", d.NetNsInode, extNetNs))
		}
	}
	return args
}

// RestoreArgs is the criu command line for a restore. The restored init
// is CRIU's sibling, so the caller becomes its parent and can wait for it.
func RestoreArgs(o Options, r Restore) []string {
	args := []string{"restore"}
	args = append(args, commonArgs(o, "restore.log")...)
	args = append(args, "--root", r.Root, "--restore-detached", "--restore-sibling",
		"--pidfile", r.PidFile, "--evasive-devices")
	if r.CgroupRoot != "" {
		args = append(args, "--cgroup-root", r.CgroupRoot)
	}
	for _, m := range r.External {
		args = append(args, "--external", "mnt["+m.Key+"]:"+m.Val)
	}
	keys := make([]string, 0, len(r.Inherit))
	for k := range r.Inherit {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--inherit-fd", fmt.Sprintf("fd[%d]:%s", r.Inherit[k], k))
	}
	return args
}

// commonArgs are the options a dump and a restore share.
func commonArgs(o Options, logName string) []string {
	args := []string{"--images-dir", o.ImagePath, "--log-file", logName, "-v4"}
	if o.WorkPath != "" {
		args = append(args, "--work-dir", o.WorkPath)
	}
	args = append(args, "--manage-cgroups")
	if o.ManageCgroupsMode != "" {
		args[len(args)-1] = "--manage-cgroups=" + o.ManageCgroupsMode
	}
	flags := []struct {
		on   bool
		name string
	}{
		{o.TCPEstablished, "--tcp-established"},
		{o.ExtUnixSk, "--ext-unix-sk"},
		{o.ShellJob, "--shell-job"},
		{o.FileLocks, "--file-locks"},
		{o.AutoDedup, "--auto-dedup"},
		{o.LazyPages, "--lazy-pages"},
	}
	for _, f := range flags {
		if f.on {
			args = append(args, f.name)
		}
	}
	// runc compat: runc always creates the network namespace empty.
	args = append(args, "--empty-ns", "net")
	// CRIU locks the network during a dump and a restore with iptables
	// by default; berth depends on nftables, not iptables (which a host
	// may lack: the cgroup v2 VM does).
	args = append(args, "--network-lock", "nftables")
	return args
}

// Run runs criu with args; extra become its fds 3 and up, stdio its 0-2
// (nil: /dev/null). A failure names the first error CRIU logged and
// where its log is.
func Run(criu string, args []string, stdio [3]*os.File, extra []*os.File) error {
	if criu == "" {
		criu = DefaultCriu
	}
	cmd := exec.Command(criu, args...)
	cmd.Stdin, cmd.Stdout, cmd.ExtraFiles = stdio[0], stdio[1], extra
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdio[2] != nil {
		cmd.Stderr = stdio[2]
	}
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s not found (install criu)", ErrUnsupported, criu)
	}
	log := logPath(args)
	why := firstError(log)
	if why == "" {
		why = strings.TrimSpace(stderr.String())
	}
	if why == "" {
		why = err.Error()
	}
	return fmt.Errorf("criu %s failed: %s (log: %s)", args[0], why, log)
}

// logPath is where CRIU writes the log of args: the work directory, or
// the images directory.
func logPath(args []string) string {
	var dir, name string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--images-dir":
			if dir == "" {
				dir = args[i+1]
			}
		case "--work-dir":
			dir = args[i+1]
		case "--log-file":
			name = args[i+1]
		}
	}
	return filepath.Join(dir, name)
}

// firstError is the first "Error" line of a CRIU log, without its
// timestamp: the cause; later ones are consequences. A helper's exit
// status (util.c) says less than the line after it.
func firstError(log string) string {
	f, err := os.Open(log)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "Error ("); i >= 0 && !strings.Contains(line, "exited, status=") {
			return strings.TrimSpace(line[i:])
		}
	}
	return ""
}

// Check runs `criu check`: nil when CRIU can checkpoint on this kernel,
// otherwise ErrUnsupported with CRIU's first complaint. Its log goes to a
// file of its own: a CRIU config file (/etc/criu/default.conf) may send
// it elsewhere.
func Check(criu string) error {
	if criu == "" {
		criu = DefaultCriu
	}
	dir, err := os.MkdirTemp("", "berth-criu-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out, err := exec.Command(criu, "check", "--work-dir", dir, "--log-file", "check.log").CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s not found (install criu)", ErrUnsupported, criu)
	}
	if err == nil {
		return nil
	}
	why := firstError(filepath.Join(dir, "check.log"))
	if why == "" {
		why = strings.TrimSpace(string(out))
	}
	if why == "" {
		why = err.Error()
	}
	return fmt.Errorf("%w: criu check: %s", ErrUnsupported, why)
}

// Version is CRIU's version, such as 3.17.1.
func Version(criu string) (string, error) {
	if criu == "" {
		criu = DefaultCriu
	}
	out, err := exec.Command(criu, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s --version: %v", ErrUnsupported, criu, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%w: %s --version printed no version", ErrUnsupported, criu)
}

// descriptorsFile records what the init process's fds 0-2 were at the
// dump (runc's name and format), so that a restore can give it new pipes
// in place of the old ones.
const descriptorsFile = "descriptors.json"

// SaveDescriptors records pid's stdio in dir, and returns the keys of
// those that are files (the caller's /dev/null, a log file): CRIU must
// take them as external (--external file[MNT:INODE]), since they may be on
// a mount the container cannot see, and a restore gives its own stdio in
// their place. Pipes are external to CRIU already; terminals are left to
// --shell-job.
func SaveDescriptors(dir string, pid int) ([]string, error) {
	fds := make([]string, 3)
	var files []string
	for i := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, i))
		fds[i] = link
		if err != nil || !strings.HasPrefix(link, "/") || strings.HasPrefix(link, "/dev/pts/") {
			continue
		}
		key, err := fileKey(pid, i)
		if err != nil {
			return nil, err
		}
		fds[i] = key
		files = append(files, key)
	}
	b, _ := json.Marshal(fds)
	if err := os.WriteFile(filepath.Join(dir, descriptorsFile), b, 0o600); err != nil {
		return nil, fmt.Errorf("save descriptors: %w", err)
	}
	return files, nil
}

// fileKey is CRIU's name of an external file: file[MNT_ID:INODE], in hex.
func fileKey(pid, fd int) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st); err != nil {
		return "", fmt.Errorf("save descriptors: %w", err)
	}
	info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	if err != nil {
		return "", fmt.Errorf("save descriptors: %w", err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(line, "mnt_id:"); ok {
			mnt, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				break
			}
			return fmt.Sprintf("file[%x:%x]", mnt, st.Ino), nil
		}
	}
	return "", fmt.Errorf("save descriptors: no mnt_id in fdinfo of fd %d", fd)
}

// InheritedStdio maps the pipes and external files the dumped init had as
// stdio to the fd numbers (0-2) that replace them at the restore.
func InheritedStdio(dir string) (map[string]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, descriptorsFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", descriptorsFile, err)
	}
	var fds []string
	if err := json.Unmarshal(b, &fds); err != nil {
		return nil, fmt.Errorf("read %s: %w", descriptorsFile, err)
	}
	m := map[string]int{}
	for i, fd := range fds {
		if i < 3 && (strings.HasPrefix(fd, "pipe:") || strings.HasPrefix(fd, "file[")) {
			m[fd] = i
		}
	}
	return m, nil
}

// CheckImage reports whether dir holds a checkpoint: CRIU's inventory and
// berth's (or runc's) descriptors.
func CheckImage(dir string) error {
	for _, f := range []string{"inventory.img", descriptorsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("%w in %s (no %s): give --image-path of a checkpoint", ErrNoImage, dir, f)
		}
	}
	return nil
}

// InheritNetNs is the key of a joined network namespace at a restore.
func InheritNetNs() string { return extNetNs }
