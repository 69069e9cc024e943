package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
)

// TestInspectShape: a stopped container's view has Docker's names and
// shapes: "/name", State's booleans, HostConfig's restart policy, port
// bindings and limits, Mounts, Config, and berth's CreateConfig.
func TestInspectShape(t *testing.T) {
	e := New(Options{Root: t.TempDir(), Runroot: t.TempDir()})
	cmd := []string{"sleep", "9"}
	rec := managed.Record{ID: "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef", Name: "web", Created: time.Now(),
		Image: "alpine", ImageID: "sha256:feed", Restart: managed.Policy{Name: "on-failure", MaxRetries: 2},
		State: managed.State{Status: managed.Exited, ExitCode: 3},
		Config: &managed.Config{Cmd: cmd, Memory: "64m", CPUs: "0.5", NetworkMode: "none", Ports: []string{"127.0.0.1:8080:80", "9090:90/udp"},
			Labels: map[string]string{"tier": "web"},
			Mounts: []spec.MountRequest{{Type: "bind", Source: "/srv", Destination: "/data", ReadOnly: true}, {Type: "tmpfs", Destination: "/tmp"}}}}
	b, err := json.Marshal(e.Inspect(rec, InspectOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Id, Name, Image, Path string
		Args                  []string
		State                 struct {
			Status        string
			Running, Dead bool
			ExitCode      int
		}
		HostConfig struct {
			RestartPolicy struct {
				Name              string
				MaximumRetryCount int
			}
			PortBindings map[string][]struct{ HostIp, HostPort string }
			Memory       int64
			NanoCpus     int64
			Binds        []string
		}
		Mounts []struct {
			Type, Source, Destination, Mode string
			RW                              bool
		}
		Config struct {
			Image  string
			Labels map[string]string
			Cmd    []string
		}
		CreateConfig struct{ NetworkMode string }
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "/web" || v.Image != "sha256:feed" || v.Path != "sleep" || len(v.Args) != 1 || v.State.Status != "exited" || v.State.Running || v.State.ExitCode != 3 {
		t.Errorf("top level: %s", b)
	}
	h := v.HostConfig
	if h.RestartPolicy.Name != "on-failure" || h.RestartPolicy.MaximumRetryCount != 2 || h.Memory != 64<<20 || h.NanoCpus != 5e8 ||
		h.PortBindings["80/tcp"][0].HostIp != "127.0.0.1" || h.PortBindings["80/tcp"][0].HostPort != "8080" || h.PortBindings["90/udp"][0].HostPort != "9090" ||
		len(h.Binds) != 1 || h.Binds[0] != "/srv:/data:ro" {
		t.Errorf("HostConfig: %+v", h)
	}
	if len(v.Mounts) != 2 || v.Mounts[0].Mode != "ro" || v.Mounts[0].RW || v.Mounts[1].Type != "tmpfs" || !v.Mounts[1].RW {
		t.Errorf("Mounts: %+v", v.Mounts)
	}
	if v.Config.Image != "alpine" || v.Config.Labels["tier"] != "web" || len(v.Config.Cmd) != 2 || v.CreateConfig.NetworkMode != "none" {
		t.Errorf("Config: %s", b)
	}
}
