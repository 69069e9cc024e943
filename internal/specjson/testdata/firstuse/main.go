// Command firstuse measures the first decode and the first encode of an
// OCI config in a fresh process, each with encoding/json ("std") or
// specjson:
//
//	go build -o /tmp/firstuse ./internal/specjson/testdata/firstuse
//	for i in $(seq 20); do /tmp/firstuse std specjson config.json; done
//
// decodes with encoding/json, then encodes with specjson. It prints the
// two durations in microseconds. specjson's decode does not build
// encoding/json's encoders, so "specjson std" measures a cold
// json.Marshal.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/internal/specjson"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: firstuse std|specjson std|specjson CONFIG")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var s specs.Spec
	t0 := time.Now()
	if os.Args[1] == "std" {
		err = json.Unmarshal(b, &s)
	} else if !specjson.Unmarshal(b, &s) {
		err = fmt.Errorf("fell back")
	}
	t1 := time.Now()
	if err == nil {
		if os.Args[2] == "std" {
			_, err = json.Marshal(&s)
		} else {
			_, err = specjson.Marshal(&s)
		}
	}
	t2 := time.Now()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(t1.Sub(t0).Microseconds(), t2.Sub(t1).Microseconds())
}
