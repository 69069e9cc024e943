package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-runtime/berth/internal/image"
)

// CheckLogin tries user and password on registry, as docker login does
// before it stores them: a token registry must issue a token for them,
// and /v2/ must answer 200 with them.
func CheckLogin(ctx context.Context, host string, user, password string, insecure bool) error {
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	registry, err := name.NewRegistry(host, opts...)
	if err != nil {
		return fmt.Errorf("invalid registry %q: give HOST[:PORT]", host)
	}
	if err := checkLogin(ctx, registry, user, password, insecure); err != nil {
		return fmt.Errorf("login to %s: %w", registry.RegistryStr(), explainLogin(err))
	}
	return nil
}

func checkLogin(ctx context.Context, registry name.Registry, user, password string, insecure bool) error {
	base, g := baseTransport(insecure)
	defer base.CloseIdleConnections()
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	tr, err := transport.NewWithContext(ctx, registry, auth, g, nil)
	if err != nil {
		return err
	}
	// The transport rewrites the scheme to what the registry answered on.
	u := url.URL{Scheme: "https", Host: registry.RegistryStr(), Path: "/v2/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusOK)
}

func explainLogin(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return image.ErrLoginDenied
	}
	return explain(err)
}
