// Package logs owns a container's log file in Docker's json-file format:
// one JSON object per line,
//
//	{"log":"text\n","stream":"stdout","time":"2026-11-22T12:00:00.123456789Z"}
//
// with size-based rotation to <path>.1, <path>.2, ... Writer is used by the
// per-container monitor that copies the container's stdout and stderr;
// Read serves `berth logs`, optionally following. The package knows
// nothing about containers: where the file lives and when a container has
// stopped are the caller's business.
package logs

import (
	"encoding/json"
	"time"
)

// MaxLine is the longest text one entry holds. A longer line is split into
// several entries, only the last ending in "\n" (Docker's partial
// messages), so concatenating the entries restores the line.
const MaxLine = 16 << 10

// timeFormat is RFC 3339 with a fixed-width fraction, as Docker writes it,
// so the time field always has the same length.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Entry is one log record. Line is the text as the container wrote it,
// including the trailing "\n" unless it is a partial message or the stream
// ended without one.
type Entry struct {
	Stream string
	Time   time.Time
	Line   []byte
}

// record is an Entry as it is stored.
type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// encode renders one line of the log file, "\n" included.
func encode(stream string, line []byte, t time.Time) []byte {
	log, _ := json.Marshal(string(line)) // a string always marshals
	st, _ := json.Marshal(stream)
	b := make([]byte, 0, len(log)+len(st)+len(timeFormat)+32)
	b = append(b, `{"log":`...)
	b = append(b, log...)
	b = append(b, `,"stream":`...)
	b = append(b, st...)
	b = append(b, `,"time":"`...)
	b = t.UTC().AppendFormat(b, timeFormat)
	return append(b, "\"}\n"...)
}

// decode parses one line of the log file; ok is false for a line that is
// not a whole record (torn by a killed writer, or garbage).
func decode(line []byte) (e Entry, ok bool) {
	var r record
	if err := json.Unmarshal(line, &r); err != nil || r.Stream == "" {
		return Entry{}, false
	}
	return Entry{Stream: r.Stream, Time: r.Time, Line: []byte(r.Log)}, true
}

// FormatEntry renders an entry for `berth logs`: the text, prefixed with
// its time in RFC 3339 and a space when timestamps is set.
func FormatEntry(e Entry, timestamps bool) []byte {
	if !timestamps {
		return e.Line
	}
	b := make([]byte, 0, len(time.RFC3339Nano)+1+len(e.Line))
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	return append(b, e.Line...)
}
