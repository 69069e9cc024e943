package build

import (
	"context"
	"slices"
	"sync"
)

// Stages build as BuildKit's DAG: each in a goroutine of its own that
// waits only for the stages it uses (FROM, COPY --from, RUN --mount
// from=), so independent stages run at once. The first stage to fail
// cancels the others; its error is the build's.

// stageDeps are the earlier stages stage i uses.
func (b *builder) stageDeps(i int) []int {
	var deps []int
	add := func(name string) {
		if j := b.stageIndex(name); j >= 0 && j < i && !slices.Contains(deps, j) {
			deps = append(deps, j)
		}
	}
	st := b.stages[i]
	add(b.expandMeta(st.BaseName))
	for _, c := range st.Commands {
		for _, from := range stageRefs(c) {
			add(from)
		}
	}
	return deps
}

// buildStages builds the needed stages, each as soon as those it uses
// are built.
func (b *builder) buildStages(needed []int) error {
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	parent := b.ctx
	b.ctx = ctx
	defer func() { b.ctx = parent }()
	done := make(map[int]chan struct{}, len(needed))
	for _, i := range needed {
		done[i] = make(chan struct{})
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, i := range needed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, j := range b.stageDeps(i) {
				select {
				case <-done[j]:
				case <-ctx.Done():
					return
				}
			}
			if err := b.buildStage(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
				return
			}
			close(done[i])
		}()
	}
	wg.Wait()
	if first == nil && parent.Err() != nil {
		return errInterrupted
	}
	return first
}

// result is stage i's image, once built.
func (b *builder) result(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.results[i]
}

func (b *builder) setResult(i int, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results[i] = id
}
