package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/redis"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/livekit/psrpc/pkg/bus/redisbus"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/rtmp"
	"github.com/tributary-ingress/tributary/ingest/srt"
	"github.com/tributary-ingress/tributary/ingest/url"
	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/internal/monitor"
	"github.com/tributary-ingress/tributary/room"
	"github.com/tributary-ingress/tributary/service"
	"github.com/tributary-ingress/tributary/service/cluster"
	"github.com/tributary-ingress/tributary/session"
)

// Cluster is a running cluster-mode Tributary: a worker of a
// livekit-server configured with the same Redis. livekit-server serves the
// Ingress API and keeps the records; this process has no store and no
// Twirp API. It takes RTMP and WHIP publishes (authorized through
// livekit-server), URL ingresses sent by StartIngress, and reports every
// state change back.
type Cluster struct {
	Config *config.Config
	Logger logger.Logger

	mon    *monitor.Monitor
	worker *cluster.Worker
	redis  interface{ Close() error }
	endpoints
	pulls pulls
}

// Initialize connects to Redis, joins the psrpc bus and starts every
// listener. On error, what was started is stopped again.
func (c *Cluster) Initialize() (err error) {
	conf := c.Config
	if c.Logger == nil {
		c.Logger = logger.GetLogger()
	}
	defer func() {
		if err != nil {
			c.Close(context.Background())
		}
	}()
	nodeID := nodeID(conf)
	c.mon, err = monitor.New(monitor.Config{
		Costs:     costsOf(conf.CPUCost),
		NodeID:    nodeID,
		Logger:    c.Logger.WithValues("component", "monitor"),
		Admission: true,
	})
	if err != nil {
		return err
	}
	rc, err := redis.GetRedisClient(conf.Redis)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	c.redis = rc
	if err := c.pulls.init(conf, c.Logger); err != nil {
		return err
	}
	c.worker, err = cluster.New(cluster.Config{
		Bus:       redisbus.New(rc),
		Admission: c.mon,
		URL:       urlLauncher(c.launchURL),
		Logger:    c.Logger,
	})
	if err != nil {
		return err
	}
	if err := c.serveOps(conf, c.mon.HealthHandler(), c.mon.Handler()); err != nil {
		return err
	}
	c.whipRemote = whipRemote{c.worker}
	if err := c.startInputs(conf, c, c.Logger); err != nil {
		return err
	}
	c.Logger.Infow("tributary started in cluster mode (worker of livekit-server over Redis)",
		"nodeID", nodeID, "healthPort", conf.HealthPort, "prometheusPort", conf.PrometheusPort,
		"rtmpPort", conf.RTMPPort, "whipPort", conf.WHIPPort, "rtmpsPort", conf.RTMPSPort, "srtPort", conf.SRTPort,
		"wsURL", conf.WsURL, "whipProxy", conf.WHIPProxyEnabled)
	return nil
}

// Drain stops taking sessions (publishes are refused, StartIngress bids
// -1, /availability answers 503) and waits for the running ones to end,
// at most until ctx is done.
func (c *Cluster) Drain(ctx context.Context) error {
	if c.mon != nil {
		c.mon.SetDraining()
	}
	if c.worker == nil {
		return nil
	}
	n := c.worker.Active()
	c.Logger.Infow("draining: no new sessions; waiting for the running ones", "sessions", n)
	return c.worker.Drain(ctx)
}

// Close ends the running sessions (waiting for their final state to be
// reported, at most until ctx is done), then stops every listener and
// leaves the bus.
func (c *Cluster) Close(ctx context.Context) {
	if c.mon != nil {
		c.mon.SetDraining()
	}
	if c.worker != nil {
		if err := c.worker.Stop(ctx, service.ErrShutdown); err != nil {
			c.Logger.Warnw("shutdown", err)
		}
	}
	c.closeInputs()
	c.closeHTTP()
	c.pulls.close()
	if c.worker != nil {
		c.worker.Close()
	}
	if c.redis != nil {
		_ = c.redis.Close()
	}
	if c.mon != nil {
		c.mon.Close()
	}
}

// track exports a session's counters in the metrics until it ends.
func (c *Cluster) track(s *cluster.Session) *session.Stats { return trackSession(c.mon, s) }

// AuthorizeRTMP authorizes an RTMP publish through livekit-server and
// starts its session.
func (c *Cluster) AuthorizeRTMP(streamKey string, _ net.Addr) (rtmp.Publisher, error) {
	ps, err := c.startPush(streamKey)
	if err != nil {
		return nil, err
	}
	return ps, nil
}

// AuthorizeSRT authorizes an SRT push (the streamid is an RTMP ingress's
// stream key, as in standalone mode) through livekit-server and starts its
// session.
func (c *Cluster) AuthorizeSRT(streamKey string, _ net.Addr) (srt.Publisher, error) {
	ps, err := c.startPush(streamKey)
	if err != nil {
		return nil, err
	}
	return srtPublisher{ps: ps, log: c.Logger.WithValues("input", "srt")}, nil
}

// startPush starts the live session of an RTMP ingress's stream key.
func (c *Cluster) startPush(streamKey string) (*session.Session, error) {
	s, err := c.worker.Authorize(streamKey, livekit.IngressInput_RTMP_INPUT)
	if err != nil {
		if errors.Is(err, service.ErrNotFound) {
			return nil, errors.New("stream key not found")
		}
		return nil, err
	}
	return session.Start(session.Config{
		Reporter:       s,
		Transcoders:    isolatedTranscoders(c.Config, s, transcoderOpts{IsolateByDefault: true}, c.Logger),
		Room:           c.roomConfig(),
		Live:           true,
		Stats:          c.track(s),
		TranscodeDelay: c.Config.TranscodeDelay,
	}), nil
}

// AuthorizeWHIP authorizes a WHIP publish through livekit-server and
// starts its session.
func (c *Cluster) AuthorizeWHIP(streamKey string, remote string) (whip.Publisher, error) {
	s, err := c.worker.Authorize(streamKey, livekit.IngressInput_WHIP_INPUT)
	switch {
	case err == nil:
	case errors.Is(err, service.ErrNotFound):
		return nil, whip.ErrStreamKeyNotFound
	case errors.Is(err, service.ErrDisabled), errors.Is(err, service.ErrWrongInput):
		return nil, fmt.Errorf("%w: %w", whip.ErrForbidden, err)
	case errors.Is(err, service.ErrShutdown), errors.Is(err, monitor.ErrNoCapacity):
		return nil, fmt.Errorf("%w: %w", whip.ErrUnavailable, err)
	default:
		return nil, err
	}
	proxied := c.Config.WHIPProxyEnabled && !s.Info().GetEnableTranscoding()
	s.Logger().Infow("WHIP publish", "remote", remote, "transcoding", s.Info().GetEnableTranscoding(), "proxied", proxied)
	if proxied {
		s.OnEnd(c.mon.Track(s.Info(), s.ResourceID(), nil))
		return newWHIPProxy(s, c.roomConfig()), nil
	}
	s.SetWHIPResource(whipResource{srv: c.whip, streamKey: streamKey, id: s.ResourceID()})
	return whipPublisher(s, c.roomConfig(), isolatedTranscoders(c.Config, s, transcoderOpts{IsolateByDefault: true}, c.Logger), c.track(s),
		c.Config.TranscodeDelay), nil
}

func (c *Cluster) roomConfig() room.Config {
	return room.Config{URL: c.Config.WsURL, APIKey: c.Config.APIKey, APISecret: c.Config.APISecret}
}

// launchURL starts the pull session of a URL ingress sent by StartIngress:
// it plays the media into the room in real time, ending COMPLETE at the
// end of the media or ERROR with the reason.
func (c *Cluster) launchURL(s *cluster.Session) error {
	info := s.Info()
	live := url.Live(info.Url)
	ps := session.Start(session.Config{
		Reporter:       s,
		Transcoders:    isolatedTranscoders(c.Config, s, transcoderOpts{Blocking: !live, IsolateByDefault: true}, c.Logger),
		Room:           c.roomConfig(),
		Live:           live,
		NoMediaTimeout: urlNoMediaTimeout,
		Stats:          c.track(s),
		TranscodeDelay: c.Config.TranscodeDelay,
	})
	c.pulls.wg.Add(1)
	go func() {
		defer c.pulls.wg.Done()
		err := url.Pull(s.Context(), url.Config{
			URL: info.Url, Client: c.pulls.client, Sink: ps,
			OnSplice:     func(sp url.Splice) error { return ps.Splice(fromTS(sp)) },
			OnFormat:     func(f url.Format) { s.Logger().Infow("pulling", "format", string(f)) },
			OnHLSVariant: logHLSVariant(s.Logger()),
		})
		ps.Close(err)
		ps.Wait()
	}()
	return nil
}

// urlLauncher adapts the URL input to the worker.
type urlLauncher func(s *cluster.Session) error

func (f urlLauncher) LaunchURL(s *cluster.Session) error { return f(s) }

// costsOf converts the cpu_cost section.
func costsOf(c config.CPUCostConfig) monitor.Costs {
	return monitor.Costs{
		RTMP: c.RTMPCPUCost, WHIP: c.WHIPCPUCost, WHIPBypass: c.WHIPBypassTranscodingCPUCost,
		URL: c.URLCPUCost, MinIdleRatio: c.MinIdleRatio,
	}
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
type whipRemote struct{ w *cluster.Worker }

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
