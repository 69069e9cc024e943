package spec

import (
	"bufio"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// MinMemory is the smallest memory limit accepted, as in Docker: below it
// the container's own start-up is OOM-killed.
const MinMemory = 6 << 20

// ParseSize parses a human size such as 256m, 1.5g, 512k or 1048576 (bytes)
// the way Docker's --memory does: units are binary (k = 1024).
func ParseSize(s string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimSuffix(v, "b")
	// "ki", "mi", "gi", "ti" (from KiB and so on): the i only after a unit.
	if n := len(v); n > 1 && v[n-1] == 'i' && strings.ContainsRune("kmgt", rune(v[n-2])) {
		v = v[:n-1]
	}
	mult := 1.0
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			v = v[:n-1]
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || v == "" || strings.ContainsAny(v, "+-eExXpP") {
		return 0, fmt.Errorf("invalid size %q: use a number with an optional unit b, k, m, g or t (e.g. 256m)", s)
	}
	bytes := f * mult
	// float64(MaxInt64) is 2^63 exactly, which no int64 holds.
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(bytes), nil
}

// CPUPeriod is the CFS period berth uses for --cpus, as Docker does.
const CPUPeriod = 100000

// ParseCPUs turns --cpus (a decimal number of CPUs, e.g. 0.5) into a CFS
// quota per CPUPeriod.
func ParseCPUs(s string) (quota int64, err error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("invalid --cpus %q: use a decimal number of CPUs such as 0.5 or 2", s)
	}
	n := runtime.NumCPU()
	if f < 0.01 || f > float64(n) {
		return 0, fmt.Errorf("invalid --cpus %q: the range is 0.01 to %d.00, as there are only %d CPUs available", s, n, n)
	}
	return int64(math.Round(f * CPUPeriod)), nil
}

// ParseUser splits --user "uid[:gid]" or "name[:group]".
func ParseUser(s string) (user, group string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("invalid --user %q: use uid[:gid] or name[:group]", s)
	}
	user, group, _ = strings.Cut(s, ":")
	if user == "" || strings.Contains(group, ":") || (strings.Contains(s, ":") && group == "") {
		return "", "", fmt.Errorf("invalid --user %q: use uid[:gid] or name[:group]", s)
	}
	return user, group, nil
}

// ExpandEnv turns -e values into KEY=VALUE entries. A bare KEY takes its
// value from lookup (the host's environment) and is dropped when unset
// there, as Docker does.
func ExpandEnv(values []string, lookup func(string) (string, bool)) ([]string, error) {
	out := make([]string, 0, len(values))
	for _, v := range values {
		key, _, hasValue := strings.Cut(v, "=")
		if key == "" || strings.ContainsAny(key, " \t\x00") {
			return nil, fmt.Errorf("invalid environment variable %q: use KEY=VALUE or KEY", v)
		}
		if hasValue {
			out = append(out, v)
			continue
		}
		if val, ok := lookup(key); ok {
			out = append(out, key+"="+val)
		}
	}
	return out, nil
}

// ReadEnvFile reads an --env-file: one KEY=VALUE or KEY per line; blank
// lines and lines starting with # are skipped.
func ReadEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open env file: %w", err)
	}
	defer f.Close()
	return ParseEnvFile(f, path)
}

// ParseEnvFile is ReadEnvFile on the contents of the file named path.
func ParseEnvFile(r io.Reader, path string) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(strings.SplitN(line, "=", 2)[0], " \t") {
			return nil, fmt.Errorf("env file %s line %d: variable name %q contains white space", path, n, line)
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env file %s: %w", path, err)
	}
	return lines, nil
}

// MergeEnv returns base with each entry of overrides replacing the entry of
// the same name, or appended, keeping the first-seen order.
func MergeEnv(base []string, overrides ...string) []string {
	out := append([]string(nil), base...)
	index := make(map[string]int, len(out))
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range overrides {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// HasEnv reports whether env sets key.
func HasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// ParseSignal reads a signal as kill and docker kill -s take it: a name
// with or without SIG (KILL, SIGTERM, hup) or a number from 1 to 64.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: numbers go from 1 to 64", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q: use a name such as KILL or TERM, or a number", s)
}
