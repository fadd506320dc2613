package ingress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

// API serves the Twirp livekit.Ingress service of standalone mode, with
// LiveKit's JWT authentication: a token signed with the configured API
// key/secret carrying the ingressAdmin video grant.
type API struct {
	m     *Manager
	keys  auth.KeyProvider
	twirp livekit.TwirpServer
}

// NewAPI returns the API over a Manager, accepting tokens of the given keys.
func NewAPI(m *Manager, keys auth.KeyProvider) *API {
	a := &API{m: m, keys: keys}
	a.twirp = livekit.NewIngressServer(a)
	return a
}

// Handler returns the HTTP handler (path prefix /twirp/livekit.Ingress/).
func (a *API) Handler() http.Handler { return http.HandlerFunc(a.serveHTTP) }

// PathPrefix is where the handler must be mounted.
func (a *API) PathPrefix() string { return a.twirp.PathPrefix() }

type grantsKey struct{}

// MaxRequestBytes bounds an API request body: the largest request, an
// UpdateIngress with every option set, is a few KiB.
const MaxRequestBytes = 1 << 20

func (a *API) serveHTTP(w http.ResponseWriter, r *http.Request) {
	grants, err := a.authenticate(r)
	if err != nil {
		a.m.log.Infow("API request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
		_ = twirp.WriteError(w, err)
		return
	}
	if r.ContentLength > MaxRequestBytes {
		_ = twirp.WriteError(w, twirp.NewError(twirp.Malformed, fmt.Sprintf("request body of %d bytes, larger than the %d bytes an API request may have", r.ContentLength, MaxRequestBytes)))
		return
	}
	// A body of unannounced length is cut at the bound: Twirp then
	// answers that it could not be decoded.
	r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
	a.twirp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), grantsKey{}, grants)))
}

func (a *API) authenticate(r *http.Request) (*auth.ClaimGrants, twirp.Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, twirp.NewError(twirp.Unauthenticated, "missing Authorization header: send 'Bearer <token>' signed with the API key and secret")
	}
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return nil, twirp.NewError(twirp.Unauthenticated, "invalid Authorization header: must be 'Bearer <token>'")
	}
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		return nil, twirp.NewError(twirp.Unauthenticated, "invalid token: "+err.Error())
	}
	secret := a.keys.GetSecret(v.APIKey())
	if secret == "" {
		return nil, twirp.NewError(twirp.Unauthenticated, fmt.Sprintf("unknown API key %q", v.APIKey()))
	}
	_, grants, err := v.Verify(secret)
	if err != nil {
		return nil, twirp.NewError(twirp.Unauthenticated, "invalid token: "+err.Error())
	}
	return grants, nil
}

func requireIngressAdmin(ctx context.Context) error {
	g, _ := ctx.Value(grantsKey{}).(*auth.ClaimGrants)
	if g == nil || g.Video == nil || !g.Video.IngressAdmin {
		return twirp.NewError(twirp.PermissionDenied, "permission denied: the token lacks the ingressAdmin grant")
	}
	return nil
}

// CreateIngress implements livekit.Ingress.
func (a *API) CreateIngress(ctx context.Context, req *livekit.CreateIngressRequest) (*livekit.IngressInfo, error) {
	if err := requireIngressAdmin(ctx); err != nil {
		return nil, err
	}
	info, err := a.m.Create(req)
	return info, toTwirp(err)
}

// UpdateIngress implements livekit.Ingress.
func (a *API) UpdateIngress(ctx context.Context, req *livekit.UpdateIngressRequest) (*livekit.IngressInfo, error) {
	if err := requireIngressAdmin(ctx); err != nil {
		return nil, err
	}
	if req.IngressId == "" {
		return nil, toTwirp(argErr("ingress_id", "required"))
	}
	info, err := a.m.Update(req)
	return info, toTwirp(err)
}

// ListIngress implements livekit.Ingress.
func (a *API) ListIngress(ctx context.Context, req *livekit.ListIngressRequest) (*livekit.ListIngressResponse, error) {
	if err := requireIngressAdmin(ctx); err != nil {
		return nil, err
	}
	items, err := a.m.List(req)
	if err != nil {
		return nil, toTwirp(err)
	}
	return &livekit.ListIngressResponse{Items: items}, nil
}

// DeleteIngress implements livekit.Ingress.
func (a *API) DeleteIngress(ctx context.Context, req *livekit.DeleteIngressRequest) (*livekit.IngressInfo, error) {
	if err := requireIngressAdmin(ctx); err != nil {
		return nil, err
	}
	if req.IngressId == "" {
		return nil, toTwirp(argErr("ingress_id", "required"))
	}
	info, err := a.m.Delete(req.IngressId)
	return info, toTwirp(err)
}

// toTwirp maps service errors to Twirp codes. It is the only place that
// knows about them.
func toTwirp(err error) error {
	if err == nil {
		return nil
	}
	var te twirp.Error
	if errors.As(err, &te) {
		return te
	}
	var ae *ArgumentError
	switch {
	case errors.As(err, &ae):
		return twirp.NewError(twirp.InvalidArgument, ae.Error()).WithMeta("argument", ae.Field)
	case errors.Is(err, ErrNotFound):
		return twirp.NewError(twirp.NotFound, "ingress does not exist")
	case errors.Is(err, ErrNotReusable):
		return twirp.NewError(twirp.InvalidArgument, err.Error())
	case errors.Is(err, ErrURLInputUnavailable), errors.Is(err, ErrInputDisabled):
		return twirp.NewError(twirp.Unimplemented, err.Error())
	case errors.Is(err, ErrShutdown):
		return twirp.NewError(twirp.Unavailable, err.Error())
	}
	return twirp.InternalErrorWith(err)
}
