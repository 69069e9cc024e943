package managed

import (
	"encoding/json"
	"testing"
)

// Records written before pasta say UserModeNetwork true: slirp4netns.
func TestUserModeToolReadsOlderRecords(t *testing.T) {
	for in, want := range map[string]UserModeTool{
		`{"NetworkMode":"none","UserModeNetwork":true}`:    "slirp4netns",
		`{"NetworkMode":"none","UserModeNetwork":false}`:   "",
		`{"NetworkMode":"none"}`:                           "",
		`{"NetworkMode":"none","UserModeNetwork":"pasta"}`: "pasta",
	} {
		var c Config
		if err := json.Unmarshal([]byte(in), &c); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if c.UserModeNetwork != want {
			t.Errorf("%s: %q, want %q", in, c.UserModeNetwork, want)
		}
	}
	b, _ := json.Marshal(Config{UserModeNetwork: "pasta"})
	var c Config
	if err := json.Unmarshal(b, &c); err != nil || c.UserModeNetwork != "pasta" {
		t.Errorf("round trip %s: %q %v", b, c.UserModeNetwork, err)
	}
}
