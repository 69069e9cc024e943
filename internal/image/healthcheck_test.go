package image

import (
	"testing"
	"time"
)

// TestParseHealthcheck: every field of Docker's HEALTHCHECK, in
// nanoseconds, StartInterval included (go-containerregistry lacks it).
func TestParseHealthcheck(t *testing.T) {
	b := []byte(`{"architecture":"amd64","config":{"Cmd":["sh"],"Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],
		"Interval":5000000000,"Timeout":3000000000,"StartPeriod":10000000000,"StartInterval":1000000000,"Retries":4}}}`)
	hc, err := parseHealthcheck(b)
	if err != nil {
		t.Fatal(err)
	}
	if hc == nil || hc.Test[0] != "CMD-SHELL" || hc.Interval != 5*time.Second || hc.Timeout != 3*time.Second ||
		hc.StartPeriod != 10*time.Second || hc.StartInterval != time.Second || hc.Retries != 4 {
		t.Errorf("parsed %+v", hc)
	}
	if hc, err := parseHealthcheck([]byte(`{"config":{"Cmd":["sh"]}}`)); hc != nil || err != nil {
		t.Errorf("without one: %+v %v", hc, err)
	}
}
