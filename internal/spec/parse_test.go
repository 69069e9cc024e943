package spec_test

import (
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/internal/spec"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"256m", 256 << 20},
		{"1g", 1 << 30},
		{"1.5g", 3 << 29},
		{"512k", 512 << 10},
		{"100", 100},
		{"10b", 10},
		{"0", 0},
		{".5k", 512},
		{"1.5", 1},
		{"2t", 2 << 40},
		// Suffix spellings Docker's units.RAMInBytes accepts: an optional
		// "i" and/or "b" after the unit, in any case.
		{"1gb", 1 << 30},
		{"1GB", 1 << 30},
		{"1G", 1 << 30},
		{"1gi", 1 << 30},
		{"1GiB", 1 << 30},
		{"1gib", 1 << 30},
		{"1KiB", 1 << 10},
		{"1kb", 1 << 10},
		{"256MB", 256 << 20},
		{"256Mi", 256 << 20},
		{"1B", 1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := spec.ParseSize(tt.in)
			if err != nil {
				t.Fatalf("ParseSize(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSizeRejects(t *testing.T) {
	for _, in := range []string{
		"", " ", "abc", "-1m", "-1", "+1m", "12x", "1e3m", "1e3", "1E3", "0x10",
		"0x1p4", "m", "b", "k", "ib", "1.2.3m", "1mm", "1bb", "1kbb", "1bi",
		"nan", "NaN", "inf", "infb", "Infinity", "100000000t",
	} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, err := spec.ParseSize(in)
			if err == nil {
				t.Fatalf("ParseSize(%q) = %d, want an error", in, got)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
				t.Errorf("ParseSize(%q) error %q does not quote the input", in, err)
			}
		})
	}
}

// TestParseSizeUnitlessIB: Docker rejects an "i" or "ib" suffix that follows
// no unit ("1i", "1ib"); berth strips the "b" and then the "i" and reads the
// rest as a plain byte count.
func TestParseSizeUnitlessIB(t *testing.T) {
	for _, in := range []string{"1i", "1ib", "512I", "512IB"} {
		if got, err := spec.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error: \"i\" must follow a unit (k, m, g, t) as in Docker", in, got)
		}
	}
}

// TestParseSizeOverflow: sizes at or above 2^63 bytes do not fit in an int64.
// float64(math.MaxInt64) is 2^63, so the "> math.MaxInt64" check lets exactly
// 2^63 through and the conversion yields a negative number.
func TestParseSizeOverflow(t *testing.T) {
	for _, in := range []string{"9223372036854775807", "9223372036854775808", "8388608t", "8589934592g", "8796093022208m"} {
		got, err := spec.ParseSize(in)
		if err == nil && got < 0 {
			t.Errorf("ParseSize(%q) = %d with no error; want an error (too large) or a non-negative size", in, got)
		}
	}
	if got, err := spec.ParseSize("8388608t"); err == nil {
		t.Errorf("ParseSize(%q) = %d, want a \"too large\" error: 2^63 bytes do not fit in an int64", "8388608t", got)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, seed := range []string{
		"256m", "1g", "1.5g", "512k", "100", "10b", "1GiB", "1gb", "", "abc",
		"-1m", "12x", "1e3m", "0x10", "nan", "inf", "1i", ".5k", "8388608t",
		"9223372036854775807", "99999999999999999999t", "0.0000001t",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := spec.ParseSize(s)
		if err != nil {
			if n != 0 {
				t.Errorf("ParseSize(%q) = %d with error %v; want 0 on error", s, n, err)
			}
			return
		}
		if n < 0 {
			t.Errorf("ParseSize(%q) = %d, a negative size without an error", s, n)
		}
	})
}

func TestParseCPUs(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		minCPUs int
	}{
		{"0.5", 50000, 1},
		{"0.01", 1000, 1},
		{"1", 100000, 1},
		{" 0.25 ", 25000, 1},
		{"1.5", 150000, 2},
		{"2", 200000, 2},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if runtime.NumCPU() < tt.minCPUs {
				t.Skipf("needs %d CPUs, have %d", tt.minCPUs, runtime.NumCPU())
			}
			got, err := spec.ParseCPUs(tt.in)
			if err != nil {
				t.Fatalf("ParseCPUs(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseCPUs(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCPUsRejects(t *testing.T) {
	n := runtime.NumCPU()
	rangeText := fmt.Sprintf("0.01 to %d.00", n)
	outOfRange := []string{"0.001", "0.005", "0", "-1", "1000", fmt.Sprint(n + 1), fmt.Sprintf("%d.01", n)}
	for _, in := range outOfRange {
		t.Run(in, func(t *testing.T) {
			got, err := spec.ParseCPUs(in)
			if err == nil {
				t.Fatalf("ParseCPUs(%q) = %d, want an error", in, got)
			}
			if !strings.Contains(err.Error(), rangeText) {
				t.Errorf("ParseCPUs(%q) error %q does not name the range %q", in, err, rangeText)
			}
		})
	}
	// Values that are not numbers at all: the message names the flag and
	// says what a valid value looks like.
	for _, in := range []string{"abc", "NaN", "nan", "Inf", "-Inf", "", "1,5", "0.5cpu"} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, err := spec.ParseCPUs(in)
			if err == nil {
				t.Fatalf("ParseCPUs(%q) = %d, want an error", in, got)
			}
			if !strings.Contains(err.Error(), "--cpus") || !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
				t.Errorf("ParseCPUs(%q) error %q should name --cpus and the value", in, err)
			}
		})
	}
}

func TestParseUser(t *testing.T) {
	tests := []struct {
		in          string
		user, group string
		wantErr     bool
	}{
		{in: "1000", user: "1000"},
		{in: "1000:1000", user: "1000", group: "1000"},
		{in: "alice", user: "alice"},
		{in: "alice:staff", user: "alice", group: "staff"},
		{in: "0:0", user: "0", group: "0"},
		{in: "", wantErr: true},
		{in: ":", wantErr: true},
		{in: ":1000", wantErr: true},
		{in: "1000:", wantErr: true},
		{in: "a:b:c", wantErr: true},
		{in: "alice::", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			user, group, err := spec.ParseUser(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseUser(%q) = %q, %q; want an error", tt.in, user, group)
				}
				if !strings.Contains(err.Error(), "--user") {
					t.Errorf("ParseUser(%q) error %q does not name --user", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUser(%q) error: %v", tt.in, err)
			}
			if user != tt.user || group != tt.group {
				t.Errorf("ParseUser(%q) = %q, %q; want %q, %q", tt.in, user, group, tt.user, tt.group)
			}
		})
	}
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestExpandEnv(t *testing.T) {
	host := mapLookup(map[string]string{"HOSTVAR": "from-host", "EMPTY": ""})
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr bool
	}{
		{name: "nil", in: nil, want: []string{}},
		{name: "key=value kept", in: []string{"A=1", "B=two words"}, want: []string{"A=1", "B=two words"}},
		{name: "empty value kept", in: []string{"A="}, want: []string{"A="}},
		{name: "value with =", in: []string{"A=b=c"}, want: []string{"A=b=c"}},
		{name: "explicit value wins over host", in: []string{"HOSTVAR=mine"}, want: []string{"HOSTVAR=mine"}},
		{name: "bare key copied", in: []string{"HOSTVAR"}, want: []string{"HOSTVAR=from-host"}},
		{name: "bare key set empty on host", in: []string{"EMPTY"}, want: []string{"EMPTY="}},
		{name: "bare key unset dropped", in: []string{"A=1", "NOPE", "B=2"}, want: []string{"A=1", "B=2"}},
		{name: "order kept", in: []string{"Z=1", "HOSTVAR", "A=2"}, want: []string{"Z=1", "HOSTVAR=from-host", "A=2"}},
		{name: "empty name", in: []string{"=x"}, wantErr: true},
		{name: "empty entry", in: []string{""}, wantErr: true},
		{name: "space in name", in: []string{"BAD KEY=1"}, wantErr: true},
		{name: "tab in name", in: []string{"BAD\tKEY=1"}, wantErr: true},
		{name: "NUL in name", in: []string{"BAD\x00KEY=1"}, wantErr: true},
		{name: "bare key with space", in: []string{"BAD KEY"}, wantErr: true},
		{name: "bad after good", in: []string{"A=1", "=oops"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := spec.ExpandEnv(tt.in, host)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ExpandEnv(%q) = %q, want an error", tt.in, got)
				}
				if !strings.Contains(err.Error(), "invalid environment variable") {
					t.Errorf("ExpandEnv(%q) error %q should say the variable is invalid", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExpandEnv(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExpandEnv(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadEnvFile(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		want     []string
		errParts []string // non-nil: an error is expected, containing each
	}{
		{
			name:    "basic",
			content: "A=1\nB=two words\n",
			want:    []string{"A=1", "B=two words"},
		},
		{
			name:    "comments and blanks",
			content: "# comment\n\nA=1\n   \n\t# indented comment\nB=2\n#C=3\n",
			want:    []string{"A=1", "B=2"},
		},
		{
			name:    "key only lines kept for lookup",
			content: "A=1\nHOSTVAR\nB=\n",
			want:    []string{"A=1", "HOSTVAR", "B="},
		},
		{
			name:    "leading white space trimmed",
			content: "  A=1\n\tB=2\n",
			want:    []string{"A=1", "B=2"},
		},
		{
			name:    "value keeps spaces and =",
			content: "A=x = y \n",
			want:    []string{"A=x = y "},
		},
		{
			name:    "no trailing newline",
			content: "A=1",
			want:    []string{"A=1"},
		},
		{
			name:    "empty file",
			content: "",
			want:    nil,
		},
		{
			name:     "space in name",
			content:  "A=1\n# ok\nBAD NAME=1\n",
			errParts: []string{"line 3", "white space"},
		},
		{
			name:     "space before =",
			content:  "A =1\n",
			errParts: []string{"line 1", "white space"},
		},
		{
			name:     "key only with space",
			content:  "\nSOME KEY\n",
			errParts: []string{"line 2", "white space"},
		},
		{
			name:     "line longer than 64 KiB",
			content:  "A=" + strings.Repeat("x", 70000) + "\n",
			errParts: []string{"read env file", "too long"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "env")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := spec.ReadEnvFile(path)
			if tt.errParts != nil {
				if err == nil {
					t.Fatalf("ReadEnvFile = %q, want an error", got)
				}
				for _, part := range append(tt.errParts, path) {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("ReadEnvFile error %q does not contain %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadEnvFile error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadEnvFile = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadEnvFileMissing(t *testing.T) {
	_, err := spec.ReadEnvFile(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("ReadEnvFile(missing) error = %v, want a not-exist error", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		name      string
		base      []string
		overrides []string
		want      []string
	}{
		{name: "nothing", base: nil, overrides: nil, want: nil},
		{name: "no overrides", base: []string{"A=1", "B=2"}, want: []string{"A=1", "B=2"}},
		{name: "override keeps position", base: []string{"PATH=/bin", "HOSTNAME=h"}, overrides: []string{"PATH=/x"}, want: []string{"PATH=/x", "HOSTNAME=h"}},
		{name: "append new", base: []string{"A=1"}, overrides: []string{"B=2", "C=3"}, want: []string{"A=1", "B=2", "C=3"}},
		{name: "mixed", base: []string{"A=1", "B=2", "C=3"}, overrides: []string{"D=4", "B=x", "E=5"}, want: []string{"A=1", "B=x", "C=3", "D=4", "E=5"}},
		{name: "last override wins", base: []string{"A=1"}, overrides: []string{"A=2", "A=3"}, want: []string{"A=3"}},
		{name: "new key overridden again keeps first place", base: []string{"A=1"}, overrides: []string{"N=1", "M=1", "N=2"}, want: []string{"A=1", "N=2", "M=1"}},
		{name: "empty value override", base: []string{"A=1"}, overrides: []string{"A="}, want: []string{"A="}},
		{name: "prefix names differ", base: []string{"PATH=/bin"}, overrides: []string{"PATHX=1", "PAT=2"}, want: []string{"PATH=/bin", "PATHX=1", "PAT=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := append([]string(nil), tt.base...)
			got := spec.MergeEnv(base, tt.overrides...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MergeEnv(%q, %q) = %q, want %q", tt.base, tt.overrides, got, tt.want)
			}
			if !reflect.DeepEqual(base, tt.base) {
				t.Errorf("MergeEnv modified its base: %q, was %q", base, tt.base)
			}
		})
	}
}

func TestHasEnv(t *testing.T) {
	env := []string{"PATH=/bin", "HOME=", "X=a=b"}
	for key, want := range map[string]bool{"PATH": true, "HOME": true, "X": true, "PAT": false, "a": false, "": false} {
		if got := spec.HasEnv(env, key); got != want {
			t.Errorf("HasEnv(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"web": true, "a": true, "my_net.v2-x": true, "9lives": true, strings.Repeat("a", 64): true,
		"": false, "_x": false, ".x": false, "-x": false, "a/b": false, "a b": false, "ü": false, strings.Repeat("a", 65): false,
	} {
		if got := spec.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"KILL": unix.SIGKILL, "sigterm": unix.SIGTERM, "hup": unix.SIGHUP, "9": unix.SIGKILL} {
		got, err := spec.ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "65", "-1", "NOPE", ""} {
		if _, err := spec.ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) accepted", bad)
		}
	}
}
