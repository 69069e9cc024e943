package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/procfs"
	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// devRoot is a directory with a dev/null made by plant.
func devRoot(t *testing.T, plant func(null string) error) *os.File {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := plant(filepath.Join(dir, "dev/null")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

func TestOpenDevNull(t *testing.T) {
	needRoot(t)
	bad := map[string]func(string) error{
		// An absolute symlink is resolved inside the root: to /secret there.
		"symlink to a file": func(p string) error {
			if err := os.WriteFile(filepath.Join(p, "../../secret"), []byte("secret"), 0o644); err != nil {
				return err
			}
			return os.Symlink("/secret", p)
		},
		"regular file": func(p string) error { return os.WriteFile(p, nil, 0o666) },
		"fifo":         func(p string) error { return unix.Mkfifo(p, 0o666) },
		"zero device":  func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))) },
		"block 1:3":    func(p string) error { return unix.Mknod(p, unix.S_IFBLK|0o666, int(unix.Mkdev(1, 3))) },
	}
	for name, plant := range bad {
		f, err := openDevNull(devRoot(t, plant))
		if !errors.Is(err, ErrWrongDevice) || !strings.Contains(err.Error(), "/dev/null") {
			t.Errorf("%s: %v, want ErrWrongDevice naming /dev/null", name, err)
		}
		if f != nil {
			f.Close()
		}
	}
	good := map[string]func(string) error{
		"null device": func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) },
		"symlink to a null node": func(p string) error {
			if err := unix.Mknod(filepath.Join(filepath.Dir(p), "real-null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				return err
			}
			return os.Symlink("/dev/real-null", p)
		},
	}
	for name, plant := range good {
		f, err := openDevNull(devRoot(t, plant))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		f.Close()
	}
}

func TestCheckPtmx(t *testing.T) {
	needRoot(t)
	open := func(p string) *os.File {
		f, err := os.OpenFile(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Skip(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	if err := checkPtmx(open("/dev/pts/ptmx")); err != nil {
		t.Errorf("the host's devpts ptmx: %v", err)
	}
	// A 5:2 node outside devpts, a symlink to ptmx, another device.
	node := filepath.Join(t.TempDir(), "ptmx")
	if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(5, 2))); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "ptmx")
	os.Symlink("/dev/pts/ptmx", link)
	for _, p := range []string{node, link, "/dev/null"} {
		if err := checkPtmx(open(p)); !errors.Is(err, ErrWrongDevice) {
			t.Errorf("%s: %v, want ErrWrongDevice", p, err)
		}
	}
}

// TestOpenPtmxAndPeer allocates a pty the way the init stage does (from
// /dev/pts/ptmx of the current root when nothing is pinned) and checks
// its slave; a file that is not its slave is refused.
func TestOpenPtmxAndPeer(t *testing.T) {
	needRoot(t)
	master, err := OpenPtmx()
	if err != nil {
		t.Skip(err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		t.Fatal(errno)
	}
	slave := os.NewFile(s, "slave")
	defer slave.Close()
	if err := CheckPtyPeer(master, slave); err != nil {
		t.Errorf("a real pty pair: %v", err)
	}
	null, _ := os.Open("/dev/null")
	defer null.Close()
	if err := CheckPtyPeer(master, null); !errors.Is(err, ErrWrongDevice) {
		t.Errorf("/dev/null as the slave: %v, want ErrWrongDevice", err)
	}
}

// inMountNamespace runs fn on a thread with a mount namespace and working
// directory of its own (the thread is discarded afterwards).
func inMountNamespace(t *testing.T, fn func() error) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
			done <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			done <- err
			return
		}
		done <- fn()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestMaskAndReadonlyThroughDescriptors masks a file, a directory and a
// symlink to a file inside a root, and write-protects a directory, all
// through descriptors in the verified procfs, in a mount namespace of the
// test's own.
func TestMaskAndReadonlyThroughDescriptors(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	inMountNamespace(t, func() error {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=755"); err != nil {
			return err
		}
		for _, d := range []string{"dev", "secret", "ro"} {
			os.Mkdir(filepath.Join(dir, d), 0o755)
		}
		unix.Mknod(filepath.Join(dir, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
		os.WriteFile(filepath.Join(dir, "file"), []byte("hidden"), 0o644)
		os.WriteFile(filepath.Join(dir, "secret/x"), []byte("hidden"), 0o644)
		os.Symlink("/file", filepath.Join(dir, "link"))
		root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer root.Close()
		err = procfs.InFdDir(func() error {
			if err := maskPaths(root, []string{"/link", "/secret", "/missing"}); err != nil {
				return err
			}
			return readonly(root, "/ro")
		})
		if err != nil {
			return err
		}
		if b, err := os.ReadFile(filepath.Join(dir, "file")); err != nil || len(b) != 0 {
			t.Errorf("masked file (through a symlink) reads %q, %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "secret/x")); !os.IsNotExist(err) {
			t.Errorf("masked directory still shows its files: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ro/new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("write under a read-only path: %v, want EROFS", err)
		}
		return nil
	})
}
