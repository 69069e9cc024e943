// Command crihelper serves, on loopback, a registry holding equivalents of
// the images Kubernetes' critest (cri-tools v1.37) pulls, built from
// Debian's busybox-static, since nothing outside is reachable. Run as
// nginx, httpd, hostnet-nginx, nonewprivs or pause (its name inside those
// images), it is the program of that image instead.
//
// Usage: crihelper registry BUSYBOX PORTFILE
//
//	crihelper compare BASE BASE.xml CANDIDATE CANDIDATE.xml MINPASS
//
// The registry listens on 127.0.0.1 at a free port, writes the port to
// PORTFILE once every image is pushed, and serves until it is signalled.
// Repository names are those of critest's references without their
// registry host: containerd's mirrors for registry.k8s.io, k8s.gcr.io
// and gcr.io all point at it (test/cri/run.sh).
//
// compare reads two of critest's JUnit reports (ginkgo's), prints each
// runtime handler's figures and the cases that pass with BASE and not with
// CANDIDATE, and exits 1 if there is one or BASE passed fewer than MINPASS.
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// nginxTitle is what nginx's master process shows as its command line;
// critest's ContainerPID case waits for it in /proc/1/cmdline.
const nginxTitle = "nginx: master process nginx -g daemon off;"

func main() {
	name := filepath.Base(os.Args[0])
	if os.Args[0] == nginxTitle {
		name = "nginx-master"
	}
	switch name {
	case "nginx":
		// Its comm stays "nginx" (pidof finds it), its argv[0] the title.
		err := syscall.Exec("/usr/sbin/nginx", []string{nginxTitle}, os.Environ())
		log.Fatal(err)
	case "nginx-master":
		// critest reads the pid file and looks for the name with pidof.
		if err := os.WriteFile("/var/run/nginx.pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		serveHTTP(":80")
	case "httpd":
		// critest looks for the word in the container's log.
		fmt.Fprintln(os.Stderr, "httpd: listening on :80")
		serveHTTP(":80")
	case "hostnet-nginx":
		// cri-tools' images/hostnet-nginx listens on 12003 in the host's
		// network namespace.
		serveHTTP(":12003")
	case "nonewprivs":
		// Setuid root in its image: with no_new_privs the effective uid
		// stays the caller's.
		fmt.Printf("Effective uid: %d\n", os.Geteuid())
	case "ipcs":
		// Debian's busybox has no ipcs applet; critest's HostIpc cases
		// run `ipcs -m` and look for a segment's id.
		ipcs()
	case "pgrep":
		// Debian's busybox has no pgrep either: critest runs `pgrep sleep`.
		if len(os.Args) != 2 {
			os.Exit(2)
		}
		os.Exit(pgrep(os.Args[1]))
	case "pause":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
	default:
		if len(os.Args) == 7 && os.Args[1] == "compare" {
			min, err := strconv.Atoi(os.Args[6])
			if err != nil {
				fmt.Fprintln(os.Stderr, "crihelper: MINPASS:", err)
				os.Exit(2)
			}
			os.Exit(compare(os.Args[2], os.Args[3], os.Args[4], os.Args[5], min))
		}
		if len(os.Args) != 4 || os.Args[1] != "registry" {
			fmt.Fprintln(os.Stderr, "usage: crihelper registry BUSYBOX PORTFILE | crihelper compare BASE BASE.xml CANDIDATE CANDIDATE.xml MINPASS")
			os.Exit(2)
		}
		if err := serveRegistry(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "crihelper:", err)
			os.Exit(1)
		}
	}
}

// ipcs prints the System V shared memory segments of the IPC namespace, as
// `ipcs -m` does, from /proc/sysvipc/shm.
func ipcs() {
	b, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("------ Shared Memory Segments --------")
	fmt.Println("key        shmid      owner      perms      bytes      nattch")
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range lines[1:] {
		// key shmid perms size cpid lpid nattch uid ...
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		key, _ := strconv.ParseInt(f[0], 10, 64)
		perms, _ := strconv.ParseInt(f[2], 8, 64)
		fmt.Printf("0x%08x %-10s %-10s %-10o %-10s %s\n", uint32(key), f[1], f[7], perms&0o777, f[3], f[6])
	}
}

// pgrep prints the PIDs of the processes whose name is name, and exits 1
// if there is none.
func pgrep(name string) int {
	ents, _ := os.ReadDir("/proc")
	found := 1
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == name {
			fmt.Println(pid)
			found = 0
		}
	}
	return found
}

func serveHTTP(addr string) {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><body><h1>Welcome to nginx!</h1></body></html>\n")
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}

func serveRegistry(busybox, portFile string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	host := ln.Addr().String()
	images, err := buildImages(busybox)
	if err != nil {
		return err
	}
	for _, ref := range sortedKeys(images) {
		r, err := name.ParseReference(host + "/" + ref)
		if err != nil {
			return err
		}
		if err := remote.Write(r, images[ref]); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	if err := os.WriteFile(portFile, []byte(strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)), 0o644); err != nil {
		return err
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
	return srv.Close()
}

func sortedKeys(m map[string]v1.Image) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// file is one entry of a layer.
type file struct {
	path, link string // link: a symlink's target
	hardlink   string // a hard link's target; mode must be the target's (unpackers chmod the link)
	mode       int64  // with tar's type bits implied by path/link/data
	dir        bool
	data       []byte
}

const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`

const group = `root:x:0:
daemon:x:1:
www-data:x:33:
users:x:100:
nogroup:x:65534:
`

// baseFiles is busybox's rootfs: every applet in /bin, the users above.
func baseFiles(busybox string) ([]file, error) {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	fs := []file{}
	for _, d := range []string{"bin", "dev", "etc", "home", "proc", "root", "run", "sbin", "sys", "usr", "usr/bin", "usr/sbin", "var", "var/run", "var/www"} {
		fs = append(fs, file{path: d, dir: true, mode: 0o755})
	}
	fs = append(fs, file{path: "tmp", dir: true, mode: 0o1777},
		file{path: "bin/busybox", mode: 0o755, data: bb},
		file{path: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		file{path: "etc/group", mode: 0o644, data: []byte(group)})
	// The applets busybox itself lists, hard links as in busybox's own
	// image: critest masks /bin/ls, which must not mask busybox.
	out, err := listApplets(busybox)
	if err != nil {
		return nil, err
	}
	for _, a := range out {
		if a != "busybox" {
			fs = append(fs, file{path: "bin/" + a, hardlink: "bin/busybox", mode: 0o755})
		}
	}
	return fs, nil
}

func listApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	return strings.Fields(string(out)), nil
}

func layer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch {
		case f.dir:
			h.Typeflag, h.Name = tar.TypeDir, f.path+"/"
		case f.hardlink != "":
			h.Typeflag, h.Linkname = tar.TypeLink, f.hardlink
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

func image(layers []v1.Layer, edit func(*v1.Config)) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: time.Unix(0, 0)}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = []string{"sh"}
	if edit != nil {
		edit(&cf.Config)
	}
	return mutate.ConfigFile(img, cf)
}

// buildImages makes every image critest v1.37 pulls, by repository:tag
// without the registry host. The one pinned by digest
// (test-image-digest@sha256:9700f9…) cannot be rebuilt and is left out.
func buildImages(busybox string) (map[string]v1.Image, error) {
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	fs, err := baseFiles(busybox)
	if err != nil {
		return nil, err
	}
	base, err := layer(fs)
	if err != nil {
		return nil, err
	}
	out := map[string]v1.Image{}
	add := func(ref string, extra []file, edit func(*v1.Config)) error {
		layers := []v1.Layer{base}
		if len(extra) > 0 {
			l, err := layer(extra)
			if err != nil {
				return err
			}
			layers = append(layers, l)
		}
		img, err := image(layers, edit)
		if err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		out[ref] = img
		return nil
	}
	program := func(path string, mode int64) []file {
		return []file{{path: path, mode: mode, data: self}}
	}
	cmd := func(args ...string) func(*v1.Config) { return func(c *v1.Config) { c.Cmd = args } }
	user := func(u string) func(*v1.Config) { return func(c *v1.Config) { c.User = u } }
	// A file named after the image makes each a different image, as
	// cri-tools' images/image-test does (ADD ${TEST}).
	marked := func(mark string) []file { return []file{{path: mark, mode: 0o644, data: []byte(mark + "\n")}} }

	const stg = "k8s-staging-cri-tools/"
	steps := []struct {
		ref   string
		extra []file
		edit  func(*v1.Config)
	}{
		{"e2e-test-images/busybox:1.29-2", append(program("usr/bin/ipcs", 0o755), file{path: "usr/bin/pgrep", hardlink: "usr/bin/ipcs", mode: 0o755}), nil},
		{"pause:3.9", program("pause", 0o755), func(c *v1.Config) { c.Cmd = nil; c.Entrypoint = []string{"/pause"} }},
		{"e2e-test-images/nginx:1.14-2", program("usr/sbin/nginx", 0o755), cmd("/usr/sbin/nginx")},
		{"e2e-test-images/httpd:2.4.39-4", program("usr/sbin/httpd", 0o755), cmd("/usr/sbin/httpd")},
		{"e2e-test-images/nonewprivs:1.3", program("usr/local/bin/nonewprivs", 0o4755), cmd("/usr/local/bin/nonewprivs")},
		{stg + "hostnet-nginx-amd64:latest", program("usr/sbin/hostnet-nginx", 0o755), cmd("/usr/sbin/hostnet-nginx")},
		{stg + "test-image-user-uid:latest", nil, user("1002")},
		{stg + "test-image-user-username:latest", nil, user("www-data")},
		{stg + "test-image-user-uid-group:latest", nil, user("1003:users")},
		{stg + "test-image-user-username-group:latest", nil, user("www-data:users")},
		{stg + "test-image-predefined-group:latest", []file{
			{path: "etc/passwd", mode: 0o644, data: []byte(passwd + "default-user:x:1000:1000::/home/default-user:/bin/sh\n")},
			{path: "etc/group", mode: 0o644, data: []byte(group + "default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n")},
		}, user("1000")},
		{stg + "test-image-latest:latest", marked("test-image-latest"), nil},
		{stg + "test-image-tag:test", marked("test-image-tag-test"), nil},
		{stg + "test-image-tag:all", marked("test-image-tag-all"), nil},
		{stg + "test-image-1:latest", marked("test-image-1"), nil},
		{stg + "test-image-2:latest", marked("test-image-2"), nil},
		{stg + "test-image-3:latest", marked("test-image-3"), nil},
	}
	for _, s := range steps {
		if err := add(s.ref, s.extra, s.edit); err != nil {
			return nil, err
		}
	}
	// Different tags, one image.
	for _, tag := range []string{"1", "2", "3"} {
		out[stg+"test-image-tags:"+tag] = out[stg+"test-image-1:latest"]
	}
	return out, nil
}
