package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/redis"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/livekit/psrpc/pkg/bus/redisbus"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/ingress"
	"github.com/tributary-ingress/tributary/ingress/worker"
	"github.com/tributary-ingress/tributary/internal/monitor"
)

// clusterWorker is the authority of a node in cluster mode: a worker of a
// livekit-server configured with the same Redis. livekit-server serves the
// Ingress API and keeps the records; this node has no store and no Twirp
// API. Publishes are authorized through livekit-server, URL ingresses come
// as StartIngress, every state change is reported back, sessions are
// admitted against the CPU budget, and WHIP sessions without transcoding
// may be proxied to livekit-server's own WHIP endpoint.
type clusterWorker struct {
	worker *worker.Worker
	redis  interface{ Close() error }
}

// A worker admits sessions against its CPU budget (cpu_cost), as the
// official worker does.
func (*clusterWorker) admission(_ *config.Config, mc *monitor.Config) { mc.Admission = true }
func (*clusterWorker) isolateByDefault() bool                         { return true }

func (a *clusterWorker) open(n *Node) (http.Handler, error) {
	rc, err := redis.GetRedisClient(n.Config.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	a.redis = rc
	a.worker, err = worker.New(worker.Config{
		Bus:       redisbus.New(rc),
		Admission: n.mon,
		LaunchURL: func(s *worker.Job) error { n.launchURL(s); return nil },
		Logger:    n.Logger,
	})
	if err != nil {
		return nil, err
	}
	n.whipRemote = whipRemote{a.worker}
	return n.mon.HealthHandler(), nil
}

func (a *clusterWorker) authorize(streamKey string, input livekit.IngressInput) (ingressRun, error) {
	return asRun(a.worker.Authorize(streamKey, input))
}

// whip proxies the session to livekit-server when whip_proxy_enabled and
// the ingress does not transcode; otherwise it connects the session's
// resource RPCs (a DELETE or PATCH that reached another worker) to this
// node's WHIP endpoint and lets the node run it.
func (a *clusterWorker) whip(n *Node, r ingressRun, streamKey string) whip.Publisher {
	s := r.(*worker.Job)
	if n.Config.WHIPProxyEnabled && !s.Info().GetEnableTranscoding() {
		s.OnEnd(n.mon.Track(s.Info(), s.ResourceID(), nil))
		return newWHIPProxy(s, n.roomConfig())
	}
	s.SetWHIPResource(whipResource{srv: n.endpoints.whip, streamKey: streamKey, id: s.ResourceID()})
	return nil
}

func (a *clusterWorker) activeCount() int                { return a.worker.Active() }
func (a *clusterWorker) drain(ctx context.Context) error { return a.worker.Drain(ctx) }
func (a *clusterWorker) stop(ctx context.Context) error {
	return a.worker.Stop(ctx, ingress.ErrShutdown)
}

func (a *clusterWorker) close(context.Context) {
	if a.worker != nil {
		a.worker.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
}

func (a *clusterWorker) started(n *Node) {
	c := n.Config
	n.Logger.Infow("tributary started in cluster mode (worker of livekit-server over Redis)",
		"nodeID", nodeID(c), "healthPort", c.HealthPort, "prometheusPort", c.PrometheusPort,
		"rtmpPort", c.RTMPPort, "whipPort", c.WHIPPort, "rtmpsPort", c.RTMPSPort, "srtPort", c.SRTPort,
		"wsURL", c.WsURL, "whipProxy", c.WHIPProxyEnabled)
}

// whipResource is the WebRTC side of a WHIP session on this worker's
// endpoint, for the RPCs of its resource (a DELETE or PATCH that reached
// another worker).
type whipResource struct {
	srv           *whip.Server
	streamKey, id string
}

func (r whipResource) Delete() error {
	return psrpcError(r.srv.DeleteResource(r.streamKey, r.id))
}

func (r whipResource) Patch(ctx context.Context, ifMatch, fragment string) (string, string, error) {
	res, err := r.srv.PatchResource(ctx, r.streamKey, r.id, whip.Patch{IfMatch: ifMatch, Fragment: fragment})
	return res.Fragment, res.ETag, psrpcError(err)
}

// psrpcError carries a WHIP error's HTTP status over psrpc as the code
// that maps back to it, so that the worker the client reached answers
// what this one would have.
func psrpcError(err error) error {
	if err == nil {
		return nil
	}
	code := psrpc.Internal
	switch whip.StatusOf(err) {
	case http.StatusBadRequest:
		code = psrpc.InvalidArgument
	case http.StatusUnauthorized:
		code = psrpc.Unauthenticated
	case http.StatusForbidden:
		code = psrpc.PermissionDenied
	case http.StatusBadGateway:
		code = psrpc.UpstreamServerError
	case http.StatusNotFound:
		code = psrpc.NotFound
	case http.StatusPreconditionFailed:
		code = psrpc.FailedPrecondition
	case http.StatusUnprocessableEntity:
		code = psrpc.UnprocessableEntity
	case http.StatusServiceUnavailable:
		code = psrpc.Unavailable
	}
	return psrpc.NewError(code, err)
}

// whipRemote sends the WHIP endpoint's DELETE and PATCH requests for
// resources this worker does not hold to the worker that does, over
// psrpc (IngressHandler.DeleteWHIPResource and ICERestartWHIPResource on
// the resource ID), as the official worker's WHIP server does.
type whipRemote struct{ w *worker.Worker }

func (r whipRemote) DeleteResource(ctx context.Context, streamKey, resourceID string) error {
	return httpStatusError(r.w.DeleteWHIPResource(ctx, streamKey, resourceID))
}

func (r whipRemote) PatchResource(ctx context.Context, streamKey, resourceID string, p whip.Patch) (whip.PatchResult, error) {
	res, err := r.w.ICERestartWHIPResource(ctx, &rpc.ICERestartWHIPResourceRequest{
		ResourceId: resourceID, StreamKey: streamKey,
		UserFragment: p.UFrag, Password: p.Password,
		RawTrickleIceSdpfrag: p.Fragment, IfMatch: p.IfMatch,
	})
	if err != nil {
		return whip.PatchResult{}, httpStatusError(err)
	}
	return whip.PatchResult{Fragment: res.GetTrickleIceSdpfrag(), ETag: res.GetEtag()}, nil
}

// statusError gives a psrpc error the HTTP status of its code.
type statusError struct{ err psrpc.Error }

func (e statusError) Error() string   { return e.err.Error() }
func (e statusError) Unwrap() error   { return e.err }
func (e statusError) HTTPStatus() int { return e.err.ToHttp() }

func httpStatusError(err error) error {
	var perr psrpc.Error
	if errors.As(err, &perr) {
		return statusError{perr}
	}
	return err
}
