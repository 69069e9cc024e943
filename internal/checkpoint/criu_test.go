package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	good := []Options{{}, {ManageCgroupsMode: "strict"}, {EmptyNs: []string{"network"}}, {PageServer: "10.0.0.1:27"}, {ParentPath: "pre"}}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	bad := map[string]Options{
		"manage-cgroups-mode": {ManageCgroupsMode: "bogus"},
		"empty-ns":            {EmptyNs: []string{"pid"}},
		"page-server":         {PageServer: "nohost"},
		"port":                {PageServer: "h:99999"},
		"parent-path":         {ParentPath: "/abs"},
	}
	for want, o := range bad {
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: want an error naming %s, got %v", o, want, err)
		}
	}
}

func TestDumpArgs(t *testing.T) {
	o := Options{ImagePath: "/img", WorkPath: "/work", LeaveRunning: true, TCPEstablished: true, ShellJob: true,
		ManageCgroupsMode: "soft", PageServer: "1.2.3.4:5", ParentPath: "../pre"}
	got := strings.Join(DumpArgs(o, Dump{Pid: 42, Root: "/r", FreezeCgroup: "/sys/fs/cgroup/freezer/berth/x",
		External: []Mount{{"/data", "/data"}}, NetNsInode: 7, Files: []string{"file[1a:2b]"}}), " ")
	for _, want := range []string{"dump --tree 42 ", "--images-dir /img", "--work-dir /work", "--manage-cgroups=soft",
		"--leave-running", "--tcp-established", "--shell-job", "--freeze-cgroup /sys/fs/cgroup/freezer/berth/x",
		"--prev-images-dir ../pre --track-mem", "--page-server --address 1.2.3.4 --port 5",
		"--external mnt[/data]:/data", "--external file[1a:2b]", "--external net[7]:extRootNetNS", "--empty-ns net", "--root /r"} {
		if !strings.Contains(got, want) {
			t.Errorf("dump args lack %q: %s", want, got)
		}
	}
	pre := strings.Join(DumpArgs(Options{ImagePath: "/img", PreDump: true, LeaveRunning: true}, Dump{Pid: 1, External: []Mount{{"/a", "/a"}}}), " ")
	if !strings.HasPrefix(pre, "pre-dump ") || !strings.Contains(pre, "--track-mem") || strings.Contains(pre, "--external") || strings.Contains(pre, "--leave-running") {
		t.Errorf("pre-dump args: %s", pre)
	}
}

func TestRestoreArgs(t *testing.T) {
	got := strings.Join(RestoreArgs(Options{ImagePath: "/img", FileLocks: true}, Restore{Root: "/root", CgroupRoot: "/berth/x",
		PidFile: "/p", External: []Mount{{"/data", "/src"}}, Inherit: map[string]int{"pipe:[9]": 1, "file[1:2]": 0}}), " ")
	for _, want := range []string{"restore --images-dir /img", "--root /root", "--restore-detached", "--restore-sibling",
		"--pidfile /p", "--cgroup-root /berth/x", "--external mnt[/data]:/src", "--inherit-fd fd[0]:file[1:2] --inherit-fd fd[1]:pipe:[9]", "--file-locks"} {
		if !strings.Contains(got, want) {
			t.Errorf("restore args lack %q: %s", want, got)
		}
	}
}

func TestDescriptorsAndImage(t *testing.T) {
	dir := t.TempDir()
	if err := CheckImage(dir); !errors.Is(err, ErrNoImage) {
		t.Errorf("empty dir: %v", err)
	}
	files, err := SaveDescriptors(dir, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "inventory.img"), nil, 0o600)
	if err := CheckImage(dir); err != nil {
		t.Errorf("image: %v", err)
	}
	m, err := InheritedStdio(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasPrefix(f, "file[") {
			t.Errorf("external file key %q", f)
		}
		if _, ok := m[f]; !ok {
			t.Errorf("%s is not inherited: %v", f, m)
		}
	}
	os.WriteFile(filepath.Join(dir, descriptorsFile), []byte(`["/dev/null","pipe:[5]","socket:[6]"]`), 0o600)
	m, _ = InheritedStdio(dir)
	if len(m) != 1 || m["pipe:[5]"] != 1 {
		t.Errorf("runc's descriptors: %v", m)
	}
}

func TestRunReportsCriusError(t *testing.T) {
	dir := t.TempDir()
	criu := filepath.Join(dir, "criu")
	os.WriteFile(criu, []byte("#!/bin/sh\nexit 1\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "dump.log"), []byte("(00.1) ok\n(00.2) Error (criu/util.c:642): exited, status=1\n(00.3) Error (criu/vdso.c:381): vdso: bad\n(00.4) Error (x): later\n"), 0o600)
	err := Run(criu, []string{"dump", "--images-dir", dir, "--log-file", "dump.log"}, [3]*os.File{}, nil)
	if err == nil || !strings.Contains(err.Error(), "criu dump failed: Error (criu/vdso.c:381): vdso: bad (log: "+dir+"/dump.log)") {
		t.Errorf("Run: %v", err)
	}
	if err := Run(filepath.Join(dir, "nosuch"), []string{"dump"}, [3]*os.File{}, nil); !errors.Is(err, ErrUnsupported) {
		t.Error("a missing criu ran")
	}
	if err := Check(filepath.Join(dir, "nosuch")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Check of a missing criu: %v", err)
	}
}
