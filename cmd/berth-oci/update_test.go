package main

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"67108864": 67108864, "50M": 52428800, "50m": 52428800, "50MB": 52428800, "1g": 1 << 30,
		"1.5k": 1536, "2KiB": 2048, "-1": -1, "0": 0,
	} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-2", "1e3", "nan", "inf", "12x", "1..2", "99999999p"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}
