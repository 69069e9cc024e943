package spec

import (
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// applyProcessLimits applies --ulimit, --oom-score-adj, --sysctl and
// --shm-size.
func applyProcessLimits(s *specs.Spec, o RunOptions) error {
	if err := applyUlimits(s.Process, o.Ulimits); err != nil {
		return err
	}
	if v := o.OOMScoreAdj; v != nil {
		if *v < -1000 || *v > 1000 {
			return invalidOpt("invalid --oom-score-adj %d: the range is -1000 to 1000", *v)
		}
		adj := *v
		s.Process.OOMScoreAdj = &adj
	}
	if err := applySysctls(s, o.Sysctls); err != nil {
		return err
	}
	return applyShmSize(s, o.ShmSize)
}

// ulimitNames are the resources --ulimit takes (Docker's go-units list).
var ulimitNames = map[string]string{
	"as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
	"locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE",
	"nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
	"rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}

// ParseUlimit reads --ulimit NAME=SOFT[:HARD] as Docker: HARD defaults to
// SOFT, -1 is unlimited, and SOFT may not exceed HARD.
func ParseUlimit(s string) (specs.POSIXRlimit, error) {
	name, val, ok := strings.Cut(s, "=")
	typ := ulimitNames[name]
	if !ok || typ == "" {
		return specs.POSIXRlimit{}, invalidOpt("invalid --ulimit %q: use NAME=SOFT[:HARD] with NAME one of nofile, nproc, core, memlock, stack, cpu, ...", s)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	if !hasHard {
		hardS = softS
	}
	soft, err1 := parseLimit(softS)
	hard, err2 := parseLimit(hardS)
	if err1 != nil || err2 != nil {
		return specs.POSIXRlimit{}, invalidOpt("invalid --ulimit %q: limits are numbers, or -1 for unlimited", s)
	}
	if soft > hard {
		return specs.POSIXRlimit{}, invalidOpt("invalid --ulimit %q: the soft limit must not exceed the hard limit", s)
	}
	return specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard}, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return ^uint64(0), nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// applyUlimits sets the rlimits; a later --ulimit of a resource replaces
// an earlier one.
func applyUlimits(p *specs.Process, ulimits []string) error {
	for _, u := range ulimits {
		r, err := ParseUlimit(u)
		if err != nil {
			return err
		}
		replaced := false
		for i := range p.Rlimits {
			if p.Rlimits[i].Type == r.Type {
				p.Rlimits[i], replaced = r, true
			}
		}
		if !replaced {
			p.Rlimits = append(p.Rlimits, r)
		}
	}
	return nil
}

// applySysctls sets --sysctl, allowed only in a namespace the container
// does not share with the host (validateSysctls, the runtime's own rule).
func applySysctls(s *specs.Spec, sysctls map[string]string) error {
	if len(sysctls) == 0 {
		return nil
	}
	s.Linux.Sysctl = make(map[string]string, len(sysctls))
	for k, v := range sysctls {
		s.Linux.Sysctl[k] = v
	}
	if err := validateSysctls(s); err != nil {
		return invalidOpt("invalid --sysctl: %v", strings.TrimPrefix(err.Error(), "invalid config: "))
	}
	return nil
}

// applyShmSize sizes the /dev/shm tmpfs (Docker's default is 64m).
func applyShmSize(s *specs.Spec, size string) error {
	if size == "" {
		return nil
	}
	n, err := ParseSize(size)
	if err != nil || n <= 0 {
		return invalidOpt("invalid --shm-size %q: give a size greater than 0, e.g. 128m", size)
	}
	for i, m := range s.Mounts {
		if m.Destination != "/dev/shm" {
			continue
		}
		opts := []string{}
		for _, opt := range m.Options {
			if !strings.HasPrefix(opt, "size=") {
				opts = append(opts, opt)
			}
		}
		s.Mounts[i].Options = append(opts, "size="+strconv.FormatInt(n, 10))
	}
	return nil
}

// ParseKeyValues reads --sysctl or --annotation values, KEY=VALUE each,
// into a map; a later key wins.
func ParseKeyValues(flag string, values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(values))
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, invalidOpt("invalid --%s %q: use KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}
