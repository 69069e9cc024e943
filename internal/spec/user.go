package spec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// MaxID is the largest uid or gid berth accepts, as runc: (uid_t)-1 means
// "unchanged" to setresuid, and would leave the process root.
const MaxID = math.MaxInt32

// parseID parses a numeric uid or gid. ok is false for a name; a number out
// of range is an error.
func parseID(s string) (id uint32, ok bool, err error) {
	n, perr := strconv.ParseUint(s, 10, 64)
	if perr != nil {
		if strings.Trim(s, "0123456789") == "" && s != "" {
			return 0, true, fmt.Errorf("id %s is out of range: uids and gids must be in range 0-%d", s, MaxID)
		}
		return 0, false, nil
	}
	if n > MaxID {
		return 0, true, fmt.Errorf("id %s is out of range: uids and gids must be in range 0-%d", s, MaxID)
	}
	return uint32(n), true, nil
}

// User is a resolved container user.
type User struct {
	UID, GID       uint32
	AdditionalGids []uint32
	Home           string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// ResolveUser resolves --user (uid[:gid] or name[:group]) against the
// container's own /etc/passwd and /etc/group, opened inside rootfs so that
// a hostile image cannot point them at host files.
func ResolveUser(rootfs, spec string) (User, error) {
	return resolveUserIn([]string{rootfs}, spec)
}

// resolveUserIn resolves a user in the union of roots, top first, as an
// image's layers stack: a file is read from the first root that has it.
func resolveUserIn(roots []string, spec string) (User, error) {
	name, group := "0", ""
	if spec != "" {
		var err error
		if name, group, err = ParseUser(spec); err != nil {
			return User{}, err
		}
	}
	passwd, _ := readPasswd(roots)
	u := User{Home: "/"}
	uid, numeric, err := parseID(name)
	if err != nil {
		return User{}, err
	}
	if numeric {
		u.UID = uid
		for _, p := range passwd {
			if p.uid == u.UID {
				name, u.GID, u.Home = p.name, p.gid, p.home
				break
			}
		}
	} else {
		found := false
		for _, p := range passwd {
			if p.name == name {
				u.UID, u.GID, u.Home, found = p.uid, p.gid, p.home, true
				break
			}
		}
		if !found {
			return User{}, fmt.Errorf("unable to find user %s: no matching entries in the image's /etc/passwd; use a numeric uid", name)
		}
	}
	groups, _ := readGroups(roots)
	if group != "" {
		gid, err := resolveGroup(groups, group)
		if err != nil {
			return User{}, err
		}
		u.GID = gid
	}
	// As Docker: an explicit group replaces the user's memberships.
	for _, g := range groups {
		for _, m := range g.members {
			if group == "" && m == name && g.gid != u.GID {
				u.AdditionalGids = append(u.AdditionalGids, g.gid)
			}
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	return u, nil
}

func resolveGroup(groups []groupEntry, group string) (uint32, error) {
	if gid, numeric, err := parseID(group); numeric || err != nil {
		return gid, err
	}
	for _, g := range groups {
		if g.name == group {
			return g.gid, nil
		}
	}
	return 0, fmt.Errorf("unable to find group %s: no matching entries in the image's /etc/group; use a numeric gid", group)
}

// openInRootfs opens a regular file inside rootfs, resolving every path
// component inside it. Files larger than a sane limit are refused.
func openInRootfs(rootfs, path string) (io.ReadCloser, error) {
	h, err := pathrs.OpenInRoot(rootfs, path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, 16<<20), f}, nil
}

// openInLayers opens path in the first of roots (top first) that has
// it. A whiteout (overlayfs's 0:0 character device) hides the lower ones.
func openInLayers(roots []string, path string) (io.ReadCloser, error) {
	for _, root := range roots {
		f, err := openInRootfs(root, path)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			// Found, or there but not a regular file (a whiteout, or
			// something odd): either way nothing below shows through.
			return f, err
		}
	}
	return nil, fmt.Errorf("%s: %w", path, os.ErrNotExist)
}

func readColonFile(roots []string, path string, minFields int, each func([]string)) error {
	f, err := openInLayers(roots, path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if fields := strings.Split(line, ":"); len(fields) >= minFields {
			each(fields)
		}
	}
	return sc.Err()
}

func readPasswd(roots []string) ([]passwdEntry, error) {
	var out []passwdEntry
	err := readColonFile(roots, "/etc/passwd", 7, func(f []string) {
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 == nil && err2 == nil && uid <= MaxID && gid <= MaxID {
			out = append(out, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5]})
		}
	})
	return out, err
}

func readGroups(roots []string) ([]groupEntry, error) {
	var out []groupEntry
	err := readColonFile(roots, "/etc/group", 4, func(f []string) {
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || gid > MaxID {
			return
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		out = append(out, groupEntry{name: f[0], gid: uint32(gid), members: members})
	})
	return out, err
}
