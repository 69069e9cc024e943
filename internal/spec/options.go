package spec

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Extras are the docker run options beyond the basics (issue 13), as
// stored in a container's configuration.
type Extras struct {
	CapAdd, CapDrop []string
	// SecurityOpt are --security-opt values, a seccomp profile's file
	// already read (ReadSeccompProfiles).
	SecurityOpt []string
	// GroupAdd are --group-add: gids, or names in the image's /etc/group.
	GroupAdd []string
	// Ulimits are --ulimit NAME=SOFT[:HARD].
	Ulimits     []string
	OOMScoreAdj *int
	Sysctls     map[string]string
	// ShmSize is --shm-size, the size of /dev/shm.
	ShmSize     string
	Annotations map[string]string
	// IPC, PID and UTS are --ipc, --pid and --uts; Domainname is
	// --domainname.
	IPC, PID, UTS, Domainname string
}

// CheckExtras refuses bad values before anything is made for the
// container: everything but group names, which need its root filesystem.
// network is --network, whose namespace decides which sysctls it may set.
func CheckExtras(x Extras, network string) error {
	s := Default("/", []string{"/bin/true"})
	o := RunOptions{Extras: x}
	if strings.HasPrefix(network, "container:") {
		// Another container's namespace, not the host's: checked again
		// on each run, with its path.
		network = "none"
	}
	if err := applyNetwork(s, network, ""); err != nil {
		return err
	}
	// Another container's IPC or PID namespace stands in as a private
	// one: its path is known on each run, which checks it again.
	if strings.HasPrefix(o.IPC, "container:") {
		o.IPC = "private"
	}
	if strings.HasPrefix(o.PID, "container:") {
		o.PID = ""
	}
	if err := applyNamespaceModes(s, o); err != nil {
		return err
	}
	if _, err := ParseGroupAdd(x.GroupAdd); err != nil {
		return err
	}
	if err := applyCaps(s, o); err != nil {
		return err
	}
	// Docker's default seccomp profile is built on each run, not here:
	// it cannot be wrong, and building it cost 0.3 ms of each check.
	return applyExtras(s, o, false)
}

// applyExtras applies the options that need no lookup in the rootfs,
// after applyProcess and applyCaps.
func applyExtras(s *specs.Spec, o RunOptions, defaultSeccomp bool) error {
	if err := applySecurity(s, o, defaultSeccomp); err != nil {
		return err
	}
	if err := applyProcessLimits(s, o); err != nil {
		return err
	}
	applyAnnotations(s, o.Annotations)
	return nil
}

// ParseGroupAdd splits --group-add into gids and names, refusing an
// empty value or a gid out of range.
func ParseGroupAdd(groups []string) (names []string, err error) {
	for _, g := range groups {
		if g == "" || strings.ContainsAny(g, ":\n") {
			return nil, invalidOpt("invalid --group-add %q: give a gid or a group name", g)
		}
		if _, numeric, err := parseID(g); err != nil {
			return nil, invalidOpt("invalid --group-add %q: %v", g, err)
		} else if !numeric {
			names = append(names, g)
		}
	}
	return names, nil
}

// applyGroupAdd adds --group-add's groups to the user's, names looked up
// in the container's /etc/group, as Docker does.
func applyGroupAdd(p *specs.Process, roots []string, groups []string) error {
	if len(groups) == 0 {
		return nil
	}
	entries, _ := readGroups(roots)
	for _, g := range groups {
		gid, err := resolveGroup(entries, g)
		if err != nil {
			return invalidOpt("--group-add %s: %v", g, err)
		}
		if gid != p.User.GID && !containsGID(p.User.AdditionalGids, gid) {
			p.User.AdditionalGids = append(p.User.AdditionalGids, gid)
		}
	}
	return nil
}

func containsGID(gids []uint32, gid uint32) bool {
	for _, g := range gids {
		if g == gid {
			return true
		}
	}
	return false
}
