package engine

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/logs"
	"github.com/berth-runtime/berth/internal/managed"
)

func TestParseLogSize(t *testing.T) {
	for in, want := range map[string]int64{"1k": 1 << 10, "1K": 1 << 10, "10m": 10 << 20, "2g": 2 << 30, "512": 512, "3kb": 3 << 10, "-1": 0} {
		if got, err := parseLogSize(in); err != nil || got != want {
			t.Errorf("parseLogSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k", "lots", "0", "-2m", "1.5m", "1t"} {
		if _, err := parseLogSize(bad); err == nil {
			t.Errorf("parseLogSize(%q) accepted", bad)
		}
	}
}

func TestCheckLogConfig(t *testing.T) {
	o, err := logOptions(managed.LogConfig{Config: map[string]string{"max-size": "1k", "max-file": "2"}})
	if err != nil || o.MaxSize != 1024 || o.MaxFiles != 2 {
		t.Errorf("max-size=1k max-file=2: %+v %v", o, err)
	}
	if o, err := logOptions(managed.LogConfig{}); err != nil || o != logs.DefaultOptions() {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for _, ok := range []managed.LogConfig{{}, {Type: LogJSONFile}, {Type: LogNone}, {Config: map[string]string{"max-size": "5m"}}} {
		if err := CheckLogConfig(ok); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	bad := []managed.LogConfig{
		{Type: "syslog"},
		{Config: map[string]string{"max-size": "big"}},
		{Config: map[string]string{"max-file": "0", "max-size": "1k"}},
		{Config: map[string]string{"max-file": "3"}},
		{Config: map[string]string{"tag": "x"}},
		{Type: LogNone, Config: map[string]string{"max-size": "1k"}},
	}
	if _, err := os.Stat("/run/systemd/journal/socket"); err != nil {
		bad = append(bad, managed.LogConfig{Type: LogJournald})
	}
	for _, c := range bad {
		err := CheckLogConfig(c)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestLogReadable(t *testing.T) {
	for typ, readable := range map[string]bool{"": true, LogJSONFile: true, LogNone: false, LogJournald: false} {
		rec := managed.Record{Name: "c", Config: &managed.Config{LogConfig: managed.LogConfig{Type: typ}}}
		if err := LogReadable(rec); (err == nil) != readable || (err != nil && !errors.Is(err, ErrLogsUnreadable)) {
			t.Errorf("%q: %v", typ, err)
		}
	}
}
