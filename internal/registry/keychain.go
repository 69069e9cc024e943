package registry

import (
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berth-runtime/berth/internal/credentials"
)

// keychain finds credentials for go-containerregistry where berth login
// and docker login keep them, and podman's files after (credentials.Find);
// a registry Docker's file leaves to a credential helper goes to
// authn.DefaultKeychain, which runs it.
type keychain struct{}

func (keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	c, helper, found, err := credentials.Find(r.RegistryStr(), r.String())
	switch {
	case err != nil:
		return nil, err
	case helper:
		return authn.DefaultKeychain.Resolve(r)
	case !found:
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password, IdentityToken: c.IdentityToken}), nil
}
