package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/logs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/coreos/go-systemd/v22/journal"
)

// Docker's log drivers that berth has (--log-driver).
const (
	LogJSONFile = "json-file"
	LogNone     = "none"
	LogJournald = "journald"
)

// ErrLogsUnreadable is berth logs of a container whose log driver keeps
// nothing berth can read back, in Docker's words.
var ErrLogsUnreadable = errdefs.New(errdefs.ErrInvalidArgument, "configured logging driver does not support reading")

// CheckLogConfig refuses a bad --log-driver or --log-opt before anything
// is made for the container, and a journald driver where no journal
// listens.
func CheckLogConfig(c managed.LogConfig) error {
	switch c.Type {
	case "", LogJSONFile:
		_, err := logOptions(c)
		return err
	case LogNone, LogJournald:
		for k := range c.Config {
			return errdefs.New(errdefs.ErrInvalidArgument, "invalid --log-opt %s: the %s log driver takes no options (max-size and max-file are json-file's)", k, c.Type)
		}
		if c.Type == LogJournald && !journal.Enabled() {
			return errdefs.New(errdefs.ErrInvalidArgument, "--log-driver journald: no systemd journal listens on /run/systemd/journal/socket here: use json-file or none")
		}
		return nil
	}
	return errdefs.New(errdefs.ErrInvalidArgument, "invalid --log-driver %q: use json-file, journald or none", c.Type)
}

// logOptions are json-file's --log-opt max-size and max-file, as Docker
// reads them (max-size 10m, 1k, 512; max-file a count of at least 1),
// over berth's defaults.
func logOptions(c managed.LogConfig) (logs.Options, error) {
	o := logs.DefaultOptions()
	for k, v := range c.Config {
		switch k {
		case "max-size":
			n, err := parseLogSize(v)
			if err != nil {
				return o, errdefs.New(errdefs.ErrInvalidArgument, "invalid --log-opt max-size=%s: give a size such as 10m, 512k or -1 for no limit", v)
			}
			o.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, errdefs.New(errdefs.ErrInvalidArgument, "invalid --log-opt max-file=%s: give a number of files, at least 1", v)
			}
			o.MaxFiles = n
		default:
			return o, errdefs.New(errdefs.ErrInvalidArgument, "unknown --log-opt %s for the json-file log driver: use max-size or max-file", k)
		}
	}
	if _, ok := c.Config["max-file"]; ok && o.MaxFiles > 1 && c.Config["max-size"] == "" {
		return o, errdefs.New(errdefs.ErrInvalidArgument, "--log-opt max-file needs max-size: without it the log is never rotated")
	}
	return o, nil
}

// parseLogSize reads Docker's units: a number with k, m or g (binary,
// case-insensitive, an optional b); -1 is no limit (0 here).
func parseLogSize(s string) (int64, error) {
	if s == "-1" {
		return 0, nil
	}
	t := strings.TrimSuffix(strings.ToLower(s), "b")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "m"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "g"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("bad size")
	}
	return n * mult, nil
}

// logSink is where a container's output goes besides its client: the
// json-file log, the journal, or nowhere.
type logSink interface {
	// Copy writes what r yields as entries of stream until r ends.
	Copy(stream string, r io.Reader) error
	Close() error
}

// openLog opens the sink that rec's log driver names.
func (e *Engine) openLog(rec managed.Record) (logSink, error) {
	var c managed.LogConfig
	if rec.Config != nil {
		c = rec.Config.LogConfig
	}
	switch c.Type {
	case LogNone:
		return discardLog{}, nil
	case LogJournald:
		return &journalLog{vars: map[string]string{
			"CONTAINER_ID": rec.ID[:12], "CONTAINER_ID_FULL": rec.ID, "CONTAINER_NAME": rec.Name,
			"SYSLOG_IDENTIFIER": rec.ID[:12],
		}}, nil
	}
	o, err := logOptions(c)
	if err != nil {
		return nil, err
	}
	return logs.Open(filepath.Join(e.ContainerDir(rec.ID), "container.log"), o)
}

// LogReadable refuses berth logs of a container whose driver keeps no
// log berth reads (none, journald), as Docker does for none.
func LogReadable(rec managed.Record) error {
	if rec.Config != nil && (rec.Config.LogConfig.Type == LogNone || rec.Config.LogConfig.Type == LogJournald) {
		return fmt.Errorf("container %s logs to %s: %w", rec.Name, rec.Config.LogConfig.Type, ErrLogsUnreadable)
	}
	return nil
}

type discardLog struct{}

func (discardLog) Copy(_ string, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (discardLog) Close() error { return nil }

// journalLog sends each line to the systemd journal through its native
// protocol, as Docker's journald driver: stdout at priority info, stderr
// at err, with the container's name and ID as fields.
type journalLog struct {
	vars map[string]string
	mu   sync.Mutex
	err  error
}

func (j *journalLog) Copy(stream string, r io.Reader) error {
	prio := journal.PriInfo
	if stream == "stderr" {
		prio = journal.PriErr
	}
	br := bufio.NewReaderSize(r, logs.MaxLine)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if serr := journal.Send(strings.TrimSuffix(line, "\n"), prio, j.vars); serr != nil {
				j.mu.Lock()
				if j.err == nil {
					j.err = serr
				}
				j.mu.Unlock()
			}
		}
		if err != nil {
			return nil
		}
	}
}

func (j *journalLog) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}
