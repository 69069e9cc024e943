package rootless

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// IDRange is a range of subordinate IDs: Count IDs from Start.
type IDRange struct {
	Start, Count int
}

// ParseSubIDs returns the ranges that /etc/subuid or /etc/subgid (in r)
// gives the user, named by name or by its numeric id, as shadow's
// newuidmap reads them: "owner:start:count" lines, comments and lines it
// cannot read skipped.
func ParseSubIDs(r io.Reader, name string, id int) []IDRange {
	var ranges []IDRange
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || (f[0] != name && f[0] != strconv.Itoa(id)) || f[0] == "" {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32-1 {
			continue
		}
		ranges = append(ranges, IDRange{Start: int(start), Count: int(count)})
	}
	return ranges
}

// mapArgs are newuidmap's or newgidmap's mapping arguments: the user's own
// id to 0, then each subordinate range after the other from 1.
func mapArgs(own int, ranges []IDRange) []string {
	args := []string{"0", strconv.Itoa(own), "1"}
	inside := 1
	for _, r := range ranges {
		args = append(args, strconv.Itoa(inside), strconv.Itoa(r.Start), strconv.Itoa(r.Count))
		inside += r.Count
	}
	return args
}
