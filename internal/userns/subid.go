package userns

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Owner is the name berth's subordinate ID ranges are listed under in
// /etc/subuid and /etc/subgid.
const Owner = "berth"

// Pool layout of the lines berth adds: above the ranges useradd hands to
// users (SUB_UID_MAX is 600100000 by default), aligned to whole default
// ranges, and below 2^31, where tools that keep IDs in a signed int break.
const (
	poolStart = 1 << 30
	poolCount = 1 << 30
	poolEnd   = 1 << 31
)

// Span is a range of host IDs: Start and the Count after it.
type Span struct {
	Start, Count uint32
}

func (s Span) end() uint64 { return uint64(s.Start) + uint64(s.Count) }

// subidLine is one name:start:count line.
type subidLine struct {
	name string
	span Span
}

func readSubid(path string) ([]subidLine, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var out []subidLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 {
			continue // shadow's tools skip such lines too
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, subidLine{name: f[0], span: Span{uint32(start), uint32(count)}})
	}
	return out, nil
}

// berthSpans are the ranges listed for berth, by name or by its UID when
// a berth user exists.
func berthSpans(lines []subidLine) []Span {
	uid := ""
	if u, err := user.Lookup(Owner); err == nil {
		uid = u.Uid
	}
	var out []Span
	for _, l := range lines {
		if l.name == Owner || (uid != "" && l.name == uid) {
			out = append(out, l.span)
		}
	}
	return out
}

// EnsureSpans returns berth's ranges in the subordinate ID file path,
// adding a berth:START:COUNT line first if there is none. The new line
// overlaps no other line: it starts at 2^30, or after the highest line
// that would overlap it. The caller serializes calls (the allocator's
// lock); the line is appended with one write.
func EnsureSpans(path string) ([]Span, error) {
	lines, err := readSubid(path)
	if err != nil {
		return nil, err
	}
	if spans := berthSpans(lines); len(spans) > 0 {
		return spans, nil
	}
	span, err := freeSpan(lines)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("add berth's range to %s: %w", path, err)
	}
	defer f.Close()
	prefix := ""
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
			prefix = "\n"
		}
	}
	if _, err := fmt.Fprintf(f, "%s%s:%d:%d\n", prefix, Owner, span.Start, span.Count); err != nil {
		return nil, fmt.Errorf("add berth's range to %s: %w", path, err)
	}
	return []Span{span}, nil
}

// freeSpan picks berth's pool: poolCount IDs from poolStart, moved up past
// every line it would overlap, and shrunk to stay below 2^31 (2^32 at
// worst) with at least one default range.
func freeSpan(lines []subidLine) (Span, error) {
	start := uint64(poolStart)
	for moved := true; moved; {
		moved = false
		for _, l := range lines {
			if l.span.Count > 0 && uint64(l.span.Start) < start+poolCount && start < l.span.end() {
				start = alignUp(l.span.end())
				moved = true
			}
		}
	}
	limit := uint64(poolEnd)
	if start+DefaultSize > limit {
		limit = math.MaxUint32
	}
	count := min(uint64(poolCount), limit-start)
	if start >= limit || count < DefaultSize {
		return Span{}, fmt.Errorf("no free range of %d IDs for berth: add a line %s:START:COUNT that overlaps no other", DefaultSize, Owner)
	}
	return Span{uint32(start), uint32(count)}, nil
}

func alignUp(x uint64) uint64 { return (x + DefaultSize - 1) / DefaultSize * DefaultSize }
