package build

import (
	"github.com/berth-runtime/berth/internal/buildcache"
)

// The build cache (internal/buildcache) is shared with the builds that
// run at once and with builder prune: a step is found there only once its
// image is whole, and what this build uses is noted so no prune removes it.

// openCache registers the build as a user of the cache.
func (b *builder) openCache() error {
	c, err := buildcache.Open(b.e.Root)
	if err != nil {
		return err
	}
	b.cache = c
	return nil
}

// exists says whether the store has image id.
func (b *builder) exists(id string) bool {
	_, err := b.store.Get(id)
	return err == nil
}

// cached is the step image of key, if the cache has it whole (never with
// --no-cache).
func (b *builder) cached(key string) (string, bool, error) {
	if b.o.NoCache {
		return "", false, nil
	}
	return b.cache.Lookup(key, b.exists)
}

// cachedStep is cached for a step worth waiting for (a RUN): missing, the
// step's lock is taken, so that another build making it now is waited
// for and its image found; the caller makes the step, then unlocks.
func (b *builder) cachedStep(key string) (string, bool, func(), error) {
	if b.o.NoCache {
		return "", false, func() {}, nil // nothing to wait for: the step runs anyway
	}
	if id, ok, err := b.cached(key); err != nil || ok {
		return id, ok, nil, err
	}
	unlock, err := b.cache.StepLock(key)
	if err != nil {
		return "", false, nil, err
	}
	id, ok, err := b.cached(key)
	if err != nil || ok {
		unlock()
		return id, ok, nil, err
	}
	return "", false, unlock, nil
}

// use notes an image the build starts from (a stage's base) as used.
func (b *builder) use(id string) error {
	if id == "" {
		return nil
	}
	_, err := b.cache.Use(id, b.exists)
	return err
}

// hold keeps prunes off while a step's layer and image are made: the
// build cache's lock first, then the image store's, in a prune's order.
func (b *builder) hold() (func(), error) {
	release, err := b.cache.Hold()
	if err != nil {
		return nil, err
	}
	storeRelease, err := b.store.Hold()
	if err != nil {
		release()
		return nil, err
	}
	return func() { storeRelease(); release() }, nil
}
