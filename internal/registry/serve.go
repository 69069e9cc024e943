package registry

import (
	"context"
	"fmt"

	"github.com/berth-runtime/berth/internal/image"
	"github.com/berth-runtime/berth/internal/progress"
	"github.com/berth-runtime/berth/internal/registry/client"
)

// Serve runs one request of berth's (internal/registry/client), op
// being the operation the helper was started for: a pull or push on the
// store at req.Images, or a login check. rep receives progress when the
// request asks for it.
func Serve(ctx context.Context, op string, req client.Request, rep progress.Reporter) (*client.Result, error) {
	if req.Op != op {
		return nil, fmt.Errorf("berth-registry: request for %q, run as %q", req.Op, op)
	}
	if !req.Progress {
		rep = nil
	}
	switch op {
	case "pull":
		s, err := image.Open(req.Images)
		if err != nil {
			return nil, err
		}
		img, err := Pull(ctx, s, req.Ref, PullOptions{Insecure: req.Insecure, Platform: req.Platform, Progress: rep})
		if err != nil {
			return nil, err
		}
		return &client.Result{ID: img.ID, Names: img.Names, Digests: img.Digests}, nil
	case "push":
		s, err := image.Open(req.Images)
		if err != nil {
			return nil, err
		}
		p, err := Push(ctx, s, req.Ref, PushOptions{Insecure: req.Insecure, Progress: rep})
		if err != nil {
			return nil, err
		}
		return &client.Result{Repository: p.Repository, Tag: p.Tag, Digest: p.Digest, Size: p.Size}, nil
	case "login":
		reg, err := image.RegistryHost(req.Registry)
		if err != nil {
			return nil, err
		}
		return &client.Result{}, CheckLogin(ctx, reg, req.User, req.Password, req.Insecure)
	}
	return nil, fmt.Errorf("berth-registry: unknown operation %q: want pull, push or login", op)
}
