package usermode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/network/nft"
	"github.com/berth-runtime/berth/internal/pidfd"
	"golang.org/x/sys/unix"
)

// pastaStack is a running pasta serving one container.
type pastaStack struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd is reaped
	pidFile string
	logFile string
}

// startPasta connects the network namespace of process pid to the host
// through pasta, with tap0 up and configured as slirp4netns's would be
// (10.0.2.100/24, gateway 10.0.2.2) and DNS answered at PastaDNS, and
// publishes ports on the host. As podman does, nothing else crosses:
// no port is forwarded but -p's (pasta forwards every bound port by
// default, both ways, which would hand the container the host's loopback
// services), and the gateway is not the host's loopback (--no-map-gw).
func startPasta(pid int, runDir, id string, ports []nft.Port) (_ *pastaStack, err error) {
	path, err := Available(Pasta)
	if err != nil {
		return nil, err
	}
	if err := checkUnprivileged(ports); err != nil {
		return nil, err
	}
	s := &pastaStack{pidFile: filepath.Join(runDir, Pasta+"-"+short(id)+".pid"), logFile: filepath.Join(runDir, Pasta+"-"+short(id)+".log")}
	_ = os.Remove(s.pidFile)
	args := []string{"--foreground", "--quiet", "--log-file", s.logFile, "--pid", s.pidFile,
		"--config-net", "--ns-ifname", "tap0", "--address", Address, "--netmask", "24", "--gateway", Gateway,
		"--dns-forward", PastaDNS, "--no-map-gw", "--tcp-ns", "none", "--udp-ns", "none"}
	args = append(args, pastaPorts(ports)...)
	// The namespace is handed over open, as podman hands it a path: pasta
	// drops its capabilities before it opens what it is given, and could
	// not open the files of /proc/PID/ns of the container's init.
	netns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("open the container's network namespace: %w", err)
	}
	defer netns.Close()
	s.cmd = exec.Command(path, append(args, "--netns", "/proc/self/fd/3", "--netns-only")...)
	s.cmd.ExtraFiles = []*os.File{netns}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pasta: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := s.waitReady(); err != nil {
		return nil, err
	}
	return s, nil
}

// pastaPorts are -p as pasta's --tcp-ports and --udp-ports: "none" when
// there are none, else [ADDR/]HOSTPORT:CPORT, comma-separated.
func pastaPorts(ports []nft.Port) []string {
	specs := map[string][]string{"tcp": nil, "udp": nil}
	for _, p := range ports {
		spec := fmt.Sprintf("%d:%d", p.HostPort, p.ContainerPort)
		if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
			spec = p.HostIP.String() + "/" + spec
		}
		specs[p.Proto] = append(specs[p.Proto], spec)
	}
	var args []string
	for _, proto := range []string{"tcp", "udp"} {
		list := "none"
		if len(specs[proto]) > 0 {
			list = strings.Join(specs[proto], ",")
		}
		args = append(args, "--"+proto+"-ports", list)
	}
	return args
}

// checkUnprivileged refuses host ports below the unprivileged limit up
// front: pasta binds them as the user, and would only log its failure.
func checkUnprivileged(ports []nft.Port) error {
	limit := 1024
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			limit = n
		}
	}
	for _, p := range ports {
		if int(p.HostPort) < limit {
			return errdefs.New(errdefs.ErrInvalidArgument, "publish %s: a rootless container cannot publish host ports below %d", p, limit)
		}
	}
	return nil
}

// waitReady waits for pasta's PID file, written once the namespace is
// configured and the ports bound, or for pasta to give up.
func (s *pastaStack) waitReady() error {
	deadline := time.After(10 * time.Second)
	for {
		if _, err := os.Stat(s.pidFile); err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("pasta did not configure the container's network: %s", s.why())
		case <-deadline:
			return fmt.Errorf("pasta did not configure the container's network in 10s: %s", s.why())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// why is pasta's last line of complaint.
func (s *pastaStack) why() string {
	b, _ := os.ReadFile(s.logFile)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if last := lines[len(lines)-1]; last != "" {
		return last
	}
	return "it said nothing"
}

// Record names the process and its files.
func (s *pastaStack) Record() Record {
	start, _, _ := pidfd.Stat(s.cmd.Process.Pid)
	return Record{Tool: Pasta, Pid: s.cmd.Process.Pid, Start: start, Files: []string{s.pidFile, s.logFile}}
}

// Stop ends pasta and removes its files.
func (s *pastaStack) Stop() {
	_ = s.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(2 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = os.Remove(s.pidFile)
	_ = os.Remove(s.logFile)
}
