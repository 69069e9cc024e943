package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestConfirm: a prune goes on only for y or yes; an empty answer, any
// other one and end of input are no. The question goes to stderr.
func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, " y ": true, "": false, "\n": false, "n\n": false, "yep\n": false} {
		var errw bytes.Buffer
		if got := confirm(strings.NewReader(in), &errw, pruneContainersWarning); got != want {
			t.Errorf("answer %q: %v, want %v", in, got, want)
		}
		if errw.String() != "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] " {
			t.Errorf("question: %q", errw.String())
		}
	}
	if !confirmed(true, pruneImagesWarning) {
		t.Error("-f did not skip the question")
	}
}
