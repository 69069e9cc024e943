package usermode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/network/nft"
	"github.com/berth-runtime/berth/internal/pidfd"
)

// slirpStack is a running slirp4netns serving one container.
type slirpStack struct {
	cmd    *exec.Cmd
	exitW  *os.File
	api    string
	stderr *bytes.Buffer
}

// startSlirp connects the network namespace of process pid to the host
// through slirp4netns, with tap0 up and configured (10.0.2.100, its
// default network), and publishes ports on the host through its API
// socket. The host's loopback is out of the container's reach
// (--disable-host-loopback, podman's default). slirp4netns ends when Stop
// is called or when this process dies (its exit pipe closes).
func startSlirp(pid int, runDir, id string, ports []nft.Port) (_ *slirpStack, err error) {
	path, err := Available(Slirp)
	if err != nil {
		return nil, err
	}
	apiSocket := filepath.Join(runDir, Slirp+"-"+short(id)+".sock")
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	_ = os.Remove(apiSocket)
	s := &slirpStack{exitW: exitW, api: apiSocket, stderr: &bytes.Buffer{}}
	s.cmd = exec.Command(path, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--ready-fd=3", "--exit-fd=4", "--api-socket", apiSocket, strconv.Itoa(pid), "tap0")
	s.cmd.ExtraFiles = []*os.File{readyW, exitR}
	s.cmd.Stderr = s.stderr
	err = s.cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := s.waitReady(readyR); err != nil {
		return nil, err
	}
	for _, p := range ports {
		if err := s.publish(p); err != nil {
			return nil, fmt.Errorf("publish %s: %w", p, err)
		}
	}
	return s, nil
}

func (s *slirpStack) waitReady(ready *os.File) error {
	_ = ready.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if n, _ := ready.Read(b[:]); n == 1 {
		return nil
	}
	return fmt.Errorf("slirp4netns did not configure the container's network: %s", s.why())
}

// why is slirp4netns's last line of complaint.
func (s *slirpStack) why() string {
	lines := strings.Split(strings.TrimSpace(s.stderr.String()), "\n")
	if last := lines[len(lines)-1]; last != "" {
		return last
	}
	return "it said nothing"
}

// publish forwards a host port to the container (slirp4netns's
// add_hostfwd): the host port is bound by slirp4netns, as the user, so
// ports below the unprivileged limit (1024) are refused.
func (s *slirpStack) publish(p nft.Port) error {
	host := "0.0.0.0"
	if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
		host = p.HostIP.String()
	}
	req := map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
		"proto": p.Proto, "host_addr": host, "host_port": p.HostPort, "guest_addr": Address, "guest_port": p.ContainerPort,
	}}
	conn, err := net.DialTimeout("unix", s.api, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return err
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	line, _ := bufio.NewReader(conn).ReadBytes('\n')
	var resp struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(line), &resp); err != nil && len(bytes.TrimSpace(line)) > 0 {
		return fmt.Errorf("slirp4netns answered %q", line)
	}
	if resp.Error != nil {
		return fmt.Errorf("slirp4netns: %s (host ports below 1024 need root)", resp.Error.Desc)
	}
	return nil
}

// Record names the process and its API socket.
func (s *slirpStack) Record() Record {
	start, _, _ := pidfd.Stat(s.cmd.Process.Pid)
	return Record{Tool: Slirp, Pid: s.cmd.Process.Pid, Start: start, Files: []string{s.api}}
}

// Stop ends slirp4netns and removes its API socket.
func (s *slirpStack) Stop() {
	s.exitW.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	_ = os.Remove(s.api)
}
