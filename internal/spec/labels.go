package spec

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ParseLabels reads --label-file files, then -l values over them, as
// Docker: KEY=VALUE or a bare KEY (an empty value); in files, blank lines
// and lines starting with # are skipped.
func ParseLabels(labels, files []string) (map[string]string, error) {
	var all []string
	for _, f := range files {
		lines, err := ReadEnvFile(f)
		if err != nil {
			return nil, invalidOpt("--label-file: %v", err)
		}
		all = append(all, lines...)
	}
	all = append(all, labels...)
	if len(all) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(all))
	for _, kv := range all {
		k, v, _ := strings.Cut(kv, "=")
		if strings.TrimSpace(k) == "" {
			return nil, invalidOpt("invalid label %q: use KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

// applyAnnotations puts --annotation in the container's OCI config.
func applyAnnotations(s *specs.Spec, annotations map[string]string) {
	if len(annotations) == 0 {
		return
	}
	s.Annotations = make(map[string]string, len(annotations))
	for k, v := range annotations {
		s.Annotations[k] = v
	}
}
