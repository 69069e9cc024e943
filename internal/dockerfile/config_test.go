package dockerfile

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-runtime/berth/internal/errdefs"
)

func TestApplyChanges(t *testing.T) {
	base := v1.Config{Env: []string{"PATH=/bin", "HOME=/root"}, Cmd: []string{"sh"}, WorkingDir: "/srv"}
	cfg, err := ApplyChanges(base, []string{
		`CMD ["cat","/x"]`, `ENV A=1 B=$HOME/b`, `ENTRYPOINT echo hi`, `EXPOSE 80 53/udp 8000-8001`,
		`LABEL a=b "c d"=e`, `USER 1000:1000`, `VOLUME /data`, `WORKDIR app`, `STOPSIGNAL SIGINT`,
		`HEALTHCHECK --interval=5s --retries=2 CMD true`, `ONBUILD RUN echo`, `ENV PATH=/usr/bin:$PATH`,
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s: %+v", what, cfg)
		}
	}
	check("cmd", slices.Equal(cfg.Cmd, []string{"cat", "/x"}))
	check("env", slices.Equal(cfg.Env, []string{"PATH=/usr/bin:/bin", "HOME=/root", "A=1", "B=/root/b"}))
	check("entrypoint", slices.Equal(cfg.Entrypoint, []string{"/bin/sh", "-c", "echo hi"}))
	_, p80 := cfg.ExposedPorts["80/tcp"]
	_, p53 := cfg.ExposedPorts["53/udp"]
	_, p8001 := cfg.ExposedPorts["8001/tcp"]
	check("expose", p80 && p53 && p8001 && len(cfg.ExposedPorts) == 4)
	check("labels", cfg.Labels["a"] == "b" && cfg.Labels["c d"] == "e")
	check("user", cfg.User == "1000:1000")
	_, vol := cfg.Volumes["/data"]
	check("volume", vol)
	check("workdir", cfg.WorkingDir == "/srv/app")
	check("stopsignal", cfg.StopSignal == "SIGINT")
	check("healthcheck", cfg.Healthcheck != nil && cfg.Healthcheck.Interval == 5*time.Second && cfg.Healthcheck.Retries == 2 &&
		slices.Equal(cfg.Healthcheck.Test, []string{"CMD-SHELL", "true"}))
	check("onbuild", slices.Equal(cfg.OnBuild, []string{"RUN echo"}))
	if !slices.Equal(base.Cmd, []string{"sh"}) {
		t.Error("the base config changed")
	}
}

func TestApplyChangesRefused(t *testing.T) {
	for _, c := range []string{`RUN echo`, `FROM busybox`, `EXPOSE 99999`, `ENV`, "CMD a\nCMD b", `COPY a b`} {
		_, err := ApplyChanges(v1.Config{}, []string{c})
		if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: want one line of invalid argument, got %v", c, err)
		}
	}
}
