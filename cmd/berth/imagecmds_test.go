package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/image"
)

func TestHistoryRow(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	long := strings.Repeat("é", 50)
	e := image.HistoryEntry{ID: "sha256:0123456789abcdef0123", Created: at, CreatedBy: "RUN\ta", Size: 1234567}
	if r := historyRowOf(e, true, true); r.ID != "0123456789ab" || r.CreatedBy != "RUN a" || r.Size != "1.23MB" || !strings.HasSuffix(r.CreatedSince, "ago") {
		t.Errorf("human: %+v", r)
	}
	if r := historyRowOf(e, false, false); r.ID != e.ID || r.Size != "1234567" || r.CreatedSince != "2024-05-01T10:00:00Z" {
		t.Errorf("raw: %+v", r)
	}
	e.ID, e.CreatedBy = image.Missing, long
	if r := historyRowOf(e, true, true); r.ID != image.Missing || r.CreatedBy != strings.Repeat("é", 44)+"…" {
		t.Errorf("truncated: %+v", r)
	}
}

// TestImageInspectID: image inspect names the ID "Id", as docker does.
func TestImageInspectID(t *testing.T) {
	b, err := json.Marshal(newImageInfo(&image.Image{ID: "sha256:abc", Size: 3}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["Id"] != "sha256:abc" || m["ID"] != nil || m["Size"] != 3.0 {
		t.Errorf("image inspect: %s", b)
	}
}
