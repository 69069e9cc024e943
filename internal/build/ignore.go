package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// ignorer is the context's .dockerignore.
type ignorer struct {
	// mu: patternmatcher compiles a pattern on its first match, which
	// stages copying from the context at once would race on.
	mu sync.Mutex
	m  *patternmatcher.PatternMatcher
}

func loadIgnore(contextDir string) (*ignorer, error) {
	if contextDir == "" {
		return &ignorer{}, nil
	}
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return &ignorer{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	m, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return &ignorer{m: m}, nil
}

// ignored says whether rel, a path in the context, is left out.
func (ig *ignorer) ignored(rel string) bool {
	if ig.m == nil || rel == "" || rel == "." {
		return false
	}
	ig.mu.Lock()
	defer ig.mu.Unlock()
	ok, err := ig.m.MatchesOrParentMatches(filepath.ToSlash(rel))
	return err == nil && ok
}
