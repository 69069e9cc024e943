package main

import "testing"

// TestDecimalSize: docker's units.HumanSize, as system df and prune print.
func TestDecimalSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 212: "212B", 999: "999B", 1000: "1kB", 300000: "300kB", 16430000: "16.43MB", 1234567890: "1.235GB"} {
		if got := decimalSize(n); got != want {
			t.Errorf("decimalSize(%d) = %q, want %q", n, got, want)
		}
	}
}
