package spec

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// namespaceRefused says why berth cannot create a namespace of a type the
// runtime spec knows, or "" if it can.
func namespaceRefused(t specs.LinuxNamespaceType) string {
	if t == specs.TimeNamespace {
		return "time namespaces are not supported yet"
	}
	return ""
}

// Namespaces lists, sorted, the namespace types a config may ask for:
// what berth-oci features reports, from the table Validate checks.
func Namespaces() []string {
	var out []string
	for t := range namespaceTypes {
		if namespaceRefused(t) == "" {
			out = append(out, string(t))
		}
	}
	slices.Sort(out)
	return out
}
