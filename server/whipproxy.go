package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/pion/rtp"

	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/ingress/worker"
	"github.com/tributary-ingress/tributary/room"
)

// Bounds of the WHIP proxy mode.
const (
	// proxyNotifyTimeout ends a proxied session that livekit-server has
	// not reported on (WHIPRTCConnectionNotify, every 10 s) for this long,
	// as the official worker does.
	proxyNotifyTimeout = 3 * time.Minute
	// proxyRequestTimeout bounds each request to livekit-server's WHIP
	// endpoint.
	proxyRequestTimeout = 10 * time.Second
	// proxyMaxBody bounds what is read of livekit-server's answers.
	proxyMaxBody = whip.MaxBodySize
)

// whipProxy is a WHIP session in proxy mode (cluster mode,
// whip_proxy_enabled, transcoding off), as the official worker runs it:
// the client's offer goes to livekit-server's own WHIP endpoint
// (/whip/v1) as the ingress participant, with the X-Livekit-Ingress
// header, and the SFU terminates WebRTC. livekit-server then reports the
// participant with WHIPRTCConnectionNotify every 10 s and when it closes;
// the session ends on that close, on the client's DELETE (sent on to
// livekit-server), when the ingress is updated or deleted, or after
// proxyNotifyTimeout without a report.
type whipProxy struct {
	s      *worker.Job
	rc     room.Config
	client *http.Client
	log    logger.Logger

	// Set by Forward before the session is shared.
	location      *url.URL
	token         string
	participantID string

	// notifyTimeout is proxyNotifyTimeout (shorter in tests).
	notifyTimeout time.Duration

	mu       sync.Mutex
	watchdog *time.Timer
	ended    bool          // no watchdog after the end
	end      chan proxyEnd // cap 1: the first reason wins
	endOnce  sync.Once
}

// proxyEnd is why a proxied session ends.
type proxyEnd struct {
	err error
	// sfuClosed: livekit-server closed the participant; nothing to delete
	// there.
	sfuClosed bool
}

func newWHIPProxy(s *worker.Job, rc room.Config) *whipProxy {
	info := s.Info()
	rc.RoomName = info.RoomName
	rc.ParticipantIdentity = info.ParticipantIdentity
	rc.ParticipantName = info.ParticipantName
	rc.ParticipantMetadata = info.ParticipantMetadata
	rc.IngressID = info.IngressId
	rc.ResourceID = s.ResourceID()
	p := &whipProxy{
		s: s, rc: rc, log: s.Logger(),
		client: &http.Client{
			Timeout: proxyRequestTimeout,
			// livekit-server answers directly; a redirect is not followed
			// with the ingress token.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		end:           make(chan proxyEnd, 1),
		notifyTimeout: proxyNotifyTimeout,
	}
	return p
}

// whipEndpoint is livekit-server's WHIP endpoint for ws_url.
func whipEndpoint(wsURL string) (*url.URL, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, fmt.Errorf("ws_url: %w", err)
	}
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "http"
	case "wss", "https":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("ws_url %q: not a ws, wss, http or https URL", wsURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/whip/v1"
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// Forward sends the client's offer to livekit-server's WHIP endpoint and
// returns its answer and ETag; the session is then PUBLISHING, as the
// official worker reports it. On failure the session ends in ERROR.
func (p *whipProxy) Forward(ctx context.Context, offer, userAgent string) (string, string, error) {
	answer, etag, err := p.create(ctx, offer, userAgent)
	if err == nil {
		err = p.s.ListenRTCConnection(p.participantID, p.onNotify)
		if err != nil {
			p.deleteUpstream()
		}
	}
	if err != nil {
		if ferr := p.s.Fail(err); ferr != nil {
			p.log.Warnw("could not record the session error", ferr)
		}
		_ = p.s.End()
		return "", "", err
	}
	// From here on the resource's DELETE and PATCH, which come over RPC
	// from whichever worker the client reached, go to livekit-server.
	p.s.SetWHIPResource(p)
	p.log.Infow("WHIP session proxied to livekit-server", "location", p.location.String(), "participantID", p.participantID)
	if err := p.s.SetPublishing(); err != nil {
		p.log.Warnw("could not record PUBLISHING", err)
	}
	go p.run()
	return answer, etag, nil
}

// create POSTs the offer as the ingress participant.
func (p *whipProxy) create(ctx context.Context, offer, userAgent string) (string, string, error) {
	base, err := whipEndpoint(p.rc.URL)
	if err != nil {
		return "", "", upstreamError{status: http.StatusInternalServerError, err: err}
	}
	if p.token, err = room.Token(p.rc); err != nil {
		return "", "", upstreamError{status: http.StatusInternalServerError, err: fmt.Errorf("room token: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String(), strings.NewReader(offer))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("X-Livekit-Ingress", "true")
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	res, body, err := p.do(req)
	if err != nil {
		return "", "", err
	}
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		return "", "", upstreamStatus("creating the WHIP session", res.StatusCode, body)
	}
	loc := res.Header.Get("Location")
	lu, err := url.Parse(loc)
	if loc == "" || err != nil {
		return "", "", upstreamError{status: http.StatusBadGateway,
			err: fmt.Errorf("livekit-server's WHIP endpoint answered without a usable Location (%q)", loc)}
	}
	p.location = base.ResolveReference(lu)
	p.participantID = path.Base(p.location.Path)
	if p.participantID == "" || p.participantID == "." || p.participantID == "/" {
		return "", "", upstreamError{status: http.StatusBadGateway,
			err: fmt.Errorf("livekit-server's WHIP Location %q names no participant", loc)}
	}
	return body, res.Header.Get("ETag"), nil
}

// do sends a request to livekit-server with the ingress token and reads
// the answer's body (bounded).
func (p *whipProxy) do(req *http.Request) (*http.Response, string, error) {
	req.Header.Set("Authorization", "Bearer "+p.token)
	res, err := p.client.Do(req)
	if err != nil {
		return nil, "", upstreamError{status: http.StatusBadGateway, err: fmt.Errorf("livekit-server's WHIP endpoint: %w", err)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, proxyMaxBody))
	if err != nil {
		return nil, "", upstreamError{status: http.StatusBadGateway, err: fmt.Errorf("livekit-server's WHIP endpoint: %w", err)}
	}
	return res, string(b), nil
}

// run waits for the end of the session, then deletes the participant on
// livekit-server unless it is already gone, and reports the end.
func (p *whipProxy) run() {
	p.resetWatchdog()
	var e proxyEnd
	select {
	case e = <-p.end:
	case <-p.s.Context().Done():
	}
	p.mu.Lock()
	p.ended = true
	if p.watchdog != nil {
		p.watchdog.Stop()
	}
	p.mu.Unlock()
	if !e.sfuClosed {
		p.deleteUpstream()
	}
	if e.err != nil {
		if err := p.s.Fail(e.err); err != nil {
			p.log.Warnw("could not record the session error", err)
		}
	}
	if err := p.s.End(); err != nil {
		p.log.Warnw("could not record the session end", err)
	}
}

func (p *whipProxy) stop(e proxyEnd) {
	p.endOnce.Do(func() { p.end <- e })
}

func (p *whipProxy) resetWatchdog() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	if p.watchdog != nil {
		p.watchdog.Stop()
	}
	p.watchdog = time.AfterFunc(p.notifyTimeout, func() {
		p.log.Infow("ending the proxied WHIP session: no report from livekit-server", "for", p.notifyTimeout)
		p.stop(proxyEnd{})
	})
}

// onNotify takes livekit-server's report on the participant: the input
// described from its published tracks, or its close.
func (p *whipProxy) onNotify(req *rpc.WHIPRTCConnectionNotifyRequest) {
	p.resetWatchdog()
	if v := req.GetVideo(); v != nil {
		if err := p.s.SetInputVideo(v); err != nil {
			p.log.Debugw("could not record the input video", "error", err.Error())
		}
	}
	if a := req.GetAudio(); a != nil {
		if err := p.s.SetInputAudio(a); err != nil {
			p.log.Debugw("could not record the input audio", "error", err.Error())
		}
	}
	if req.GetClosed() {
		p.log.Infow("livekit-server closed the proxied WHIP participant")
		p.stop(proxyEnd{sfuClosed: true})
	}
}

// deleteUpstream deletes the participant's WHIP session on livekit-server.
func (p *whipProxy) deleteUpstream() {
	if p.location == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), proxyRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, p.location.String(), nil)
	if err != nil {
		return
	}
	res, body, err := p.do(req)
	switch {
	case err != nil:
		p.log.Warnw("could not delete the WHIP session on livekit-server", err)
	case res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusNotFound:
		p.log.Warnw("could not delete the WHIP session on livekit-server", upstreamStatus("deleting the WHIP session", res.StatusCode, body))
	}
}

// Delete ends the session as the client's DELETE (worker.WHIPResource).
func (p *whipProxy) Delete() error {
	p.log.Infow("WHIP client deleted the resource")
	p.stop(proxyEnd{})
	return nil
}

// Patch sends the client's PATCH (trickle, or ICE restart with If-Match
// "*") on to livekit-server and returns its answer (worker.WHIPResource).
func (p *whipProxy) Patch(ctx context.Context, ifMatch, fragment string) (string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, p.location.String(), strings.NewReader(fragment))
	if err != nil {
		return "", "", psrpc.NewError(psrpc.Internal, err)
	}
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	req.Header.Set("If-Match", ifMatch)
	res, body, err := p.do(req)
	if err != nil {
		return "", "", psrpcError(err)
	}
	switch res.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return body, res.Header.Get("ETag"), nil
	}
	return "", "", psrpcError(upstreamStatus("PATCH", res.StatusCode, body))
}

// upstreamError is a failure of livekit-server's WHIP endpoint, with the
// status the client gets.
type upstreamError struct {
	status int
	err    error
}

func (e upstreamError) Error() string   { return e.err.Error() }
func (e upstreamError) Unwrap() error   { return e.err }
func (e upstreamError) HTTPStatus() int { return e.status }

// upstreamStatus is livekit-server's refusal: its 4xx goes to the client
// as it is (a bad offer, an unknown participant), anything else as 502.
func upstreamStatus(what string, status int, body string) error {
	msg := strings.TrimSpace(body)
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	err := fmt.Errorf("livekit-server's WHIP endpoint refused %s: %d %s: %s", what, status, http.StatusText(status), msg)
	if status >= 400 && status < 500 {
		return upstreamError{status: status, err: err}
	}
	return upstreamError{status: http.StatusBadGateway, err: err}
}

// The whip.Publisher methods of a session that takes no media here.

func (p *whipProxy) ResourceID() string { return p.s.ResourceID() }

func (p *whipProxy) Start(whip.Negotiated) error {
	return errors.New("a proxied WHIP session is negotiated by livekit-server")
}

func (p *whipProxy) WriteVideoRTP(int, *rtp.Packet) {}
func (p *whipProxy) WriteAudioRTP(*rtp.Packet)      {}
func (p *whipProxy) Close(err error)                { p.stop(proxyEnd{err: err}) }
func (p *whipProxy) Done() <-chan struct{}          { return p.s.Done() }
