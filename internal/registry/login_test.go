package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// tokenRegistry answers /v2/ only with a bearer token, which its /token
// endpoint issues for one user and password: the handshake of Docker
// Hub, ghcr.io and most registries.
func tokenRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`)
				return
			}
			fmt.Fprint(w, `{"token":"good-token"}`)
		case "/v2/":
			if r.Header.Get("Authorization") != "Bearer good-token" {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, srv.URL))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, "{}")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestCheckLoginToken(t *testing.T) {
	host := tokenRegistry(t, "me", "right")
	reg, err := RegistryHost(host)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := CheckLogin(ctx, reg, "me", "right", true); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := CheckLogin(ctx, reg, "me", "wrong", true); !errors.Is(err, ErrLoginDenied) {
		t.Errorf("wrong password: %v", err)
	}
	if err := CheckLogin(ctx, reg, "me", "right", false); !errors.Is(err, ErrPlainHTTP) && !strings.Contains(fmt.Sprint(err), "--tls-verify=false") {
		t.Errorf("plain http without insecure: %v", err)
	}
}
