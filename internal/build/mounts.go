package build

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/internal/buildcache"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/spec"
)

// runMounts turns RUN --mount into the step container's mounts, and says
// what of them belongs in the step's cache key: a cache mount's ID and
// target (its contents are the cache's, not the step's), a bind's target
// and the digest of what it binds from the context. Mounted paths are left
// out of the step's layer, as berth run's mount points are.
func (b *builder) runMounts(st *stageState, c *instructions.RunCommand) ([]spec.MountRequest, string, error) {
	var reqs []spec.MountRequest
	var keys []string
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if !path.IsAbs(target) {
			target = path.Join("/", st.cfg.WorkingDir, target)
		}
		switch m.Type {
		case instructions.MountTypeCache:
			dir, err := b.cacheMount(st, m, target)
			if err != nil {
				return nil, "", err
			}
			reqs = append(reqs, spec.MountRequest{Type: spec.MountBind, Source: dir, Destination: target, ReadOnly: m.ReadOnly})
			keys = append(keys, "cache "+target+" "+m.CacheID)
		case instructions.MountTypeTmpfs:
			reqs = append(reqs, spec.MountRequest{Type: spec.MountTmpfs, Destination: target})
			keys = append(keys, "tmpfs "+target)
		case instructions.MountTypeBind:
			req, digest, err := b.bindMount(st, m, target)
			if err != nil {
				return nil, "", err
			}
			reqs = append(reqs, req)
			keys = append(keys, "bind "+target+" "+digest)
		case instructions.MountTypeSecret:
			req, ok, err := b.secretMount(st, m)
			if err != nil {
				return nil, "", err
			}
			if ok {
				reqs = append(reqs, req)
				// The secret's name, never its contents, as BuildKit.
				keys = append(keys, "secret "+req.Destination)
			}
		case instructions.MountTypeSSH:
			req, ok, err := b.sshMount(m, sshIndex(instructions.GetMounts(c), m))
			if err != nil {
				return nil, "", err
			}
			if ok {
				keys = append(keys, "ssh "+req.Destination+" "+sshID(m))
				reqs = append(reqs, req)
			}
		default:
			return nil, "", errdefs.New(errdefs.ErrInvalidArgument, "RUN --mount=type=%s is not supported by berth build yet (cache, bind, tmpfs, secret and ssh are)", m.Type)
		}
	}
	k, _ := json.Marshal(keys)
	return reqs, string(k), nil
}

// cacheMount is the directory a cache mount keeps between builds:
// <root>/build/mounts/<digest of its id>, made with the mount's owner and
// mode the first time. Its lock is held until the RUN ends (st.release),
// shared, or alone with sharing=locked, so no prune removes it meanwhile.
func (b *builder) cacheMount(st *stageState, m *instructions.Mount, target string) (string, error) {
	id := m.CacheID
	if id == "" {
		id = target
	}
	dir := buildcache.MountDir(b.e.Root, fmt.Sprintf("%x", sha256.Sum256([]byte(id))))
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", err
	}
	unlock, err := buildcache.MountLock(dir, m.CacheSharing == instructions.MountSharingLocked)
	if err != nil {
		return "", err
	}
	st.release = append(st.release, unlock)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	return dir, makeCacheDir(dir, m)
}

// makeCacheDir makes a cache mount's directory with its mode and owner,
// under a temporary name renamed into place, so a RUN sharing it never
// sees it half made.
func makeCacheDir(dir string, m *instructions.Mount) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".new-")
	if err != nil {
		return err
	}
	mode := uint64(0o755)
	if m.Mode != nil {
		mode = *m.Mode
	}
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	err = os.Chmod(tmp, os.FileMode(mode&0o777))
	if err == nil {
		err = unix.Chown(tmp, uid, gid)
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
	}
	if err != nil {
		os.Remove(tmp)
		if _, serr := os.Stat(dir); serr == nil {
			return nil // another build made it first
		}
		return err
	}
	return nil
}

// bindMount binds a path of the context (read-only unless rw), resolved
// inside it; its digest is that of the files, as COPY's. One from= a
// stage or image is bindFromMount's.
func (b *builder) bindMount(st *stageState, m *instructions.Mount, target string) (spec.MountRequest, string, error) {
	if m.From != "" {
		return b.bindFromMount(st, m, target)
	}
	if b.o.Context == "" {
		return spec.MountRequest{}, "", errdefs.New(errdefs.ErrInvalidArgument, "RUN --mount=type=bind needs a build context: berth build - has none")
	}
	src, err := securejoin.SecureJoin(b.o.Context, m.Source)
	if err != nil {
		return spec.MountRequest{}, "", err
	}
	f, err := os.OpenFile(b.o.Context, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return spec.MountRequest{}, "", err
	}
	defer f.Close()
	rel := "/" + m.Source
	cs := &copySpec{context: true, ig: &ignorer{}, dest: "/", destIsDir: true}
	cs.src.F, cs.src.Contained = f, true
	if err := b.resolveSources(cs, []string{rel}, false); err != nil {
		return spec.MountRequest{}, "", err
	}
	h := sha256.New()
	if err := cs.stream(h, true); err != nil {
		return spec.MountRequest{}, "", err
	}
	return spec.MountRequest{Type: spec.MountBind, Source: src, Destination: target, ReadOnly: m.ReadOnly},
		fmt.Sprintf("%x", h.Sum(nil)), nil
}

// secretMount binds --secret's file for its ID read-only at the target
// (/run/secrets/ID by default), for this RUN only: it is left out of the
// layer as every mount point is, and its contents stay out of the cache
// key. A secret not given is skipped, or refused when required; one
// named with env= and no target is the RUN's environment instead
// (secretEnv).
func (b *builder) secretMount(st *stageState, m *instructions.Mount) (spec.MountRequest, bool, error) {
	if !secretAsFile(m) {
		return spec.MountRequest{}, false, nil
	}
	id := secretID(m)
	src, ok, err := b.secretFile(st, id)
	if err != nil || !ok {
		if err == nil && m.Required {
			err = missingSecret(id)
		}
		return spec.MountRequest{}, false, err
	}
	target := m.Target
	if target == "" {
		target = "/run/secrets/" + path.Base(id) // as BuildKit
	}
	return spec.MountRequest{Type: spec.MountBind, Source: src, Destination: path.Clean("/" + target), ReadOnly: true}, true, nil
}
