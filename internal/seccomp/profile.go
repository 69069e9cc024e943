package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// profileFile is a seccomp profile in Docker's format (docker run
// --security-opt seccomp=FILE): the OCI fields, plus archMap, a single
// name, and includes/excludes on capabilities and architectures.
type profileFile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet,omitempty"`
	ListenerPath    string                   `json:"listenerPath,omitempty"`
	Architectures   []specs.Arch             `json:"architectures,omitempty"`
	ArchMap         []struct {
		Arch      specs.Arch   `json:"architecture"`
		SubArches []specs.Arch `json:"subArchitectures"`
	} `json:"archMap,omitempty"`
	Flags    []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	Syscalls []profileSyscall         `json:"syscalls,omitempty"`
}

type profileSyscall struct {
	Name     string                   `json:"name,omitempty"`
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Comment  string                   `json:"comment,omitempty"`
	Includes *profileFilter           `json:"includes,omitempty"`
	Excludes *profileFilter           `json:"excludes,omitempty"`
}

type profileFilter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// FromDocker reads a profile in Docker's format for a container whose
// bounding set is capabilities, as Docker's setupSeccomp does: rules
// whose includes are not met, or whose excludes are, are left out. It is
// checked by compiling it, so that a bad profile is refused at once.
func FromDocker(b []byte, capabilities []string) (*specs.LinuxSeccomp, error) {
	var f profileFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if f.DefaultAction == "" {
		return nil, fmt.Errorf("profile has no defaultAction")
	}
	if f.ListenerPath != "" {
		return nil, fmt.Errorf("profile has a listenerPath: berth does not hand seccomp notifications to an agent")
	}
	p := &specs.LinuxSeccomp{DefaultAction: f.DefaultAction, DefaultErrnoRet: f.DefaultErrnoRet, Flags: f.Flags, Architectures: f.Architectures}
	for _, m := range f.ArchMap {
		if m.Arch == nativeArch {
			p.Architectures = append([]specs.Arch{m.Arch}, m.SubArches...)
		}
	}
	held := make([]string, len(capabilities))
	for i, c := range capabilities {
		held[i] = strings.ToUpper(c)
		if !strings.HasPrefix(held[i], "CAP_") {
			held[i] = "CAP_" + held[i]
		}
	}
	for _, sc := range f.Syscalls {
		r := dockerRule{names: sc.Names, action: sc.Action, args: sc.Args}
		if sc.Name != "" {
			r.names = append(slices.Clone(r.names), sc.Name)
		}
		if sc.Includes != nil {
			r.caps, r.arches = sc.Includes.Caps, sc.Includes.Arches
		}
		if sc.Excludes != nil {
			r.notCaps, r.notArches = sc.Excludes.Caps, sc.Excludes.Arches
		}
		if !r.applies(held) {
			continue
		}
		out := r.syscall()
		out.ErrnoRet = sc.ErrnoRet
		p.Syscalls = append(p.Syscalls, out)
	}
	if _, err := Compile(p); err != nil {
		return nil, err
	}
	return p, nil
}
