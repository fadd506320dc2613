package whip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ErrResourceNotFound: no server holds the WHIP resource (404).
var ErrResourceNotFound = errors.New("WHIP resource not found: the session has ended or never existed")

// errPreconditionFailed: a PATCH's If-Match is not the resource's ETag
// (412).
var errPreconditionFailed = errors.New("precondition failed")

// RemoteTimeout bounds a DELETE or PATCH handed to Remote: an ICE restart
// gathers candidates on the server holding the resource (GatherTimeout).
const RemoteTimeout = GatherTimeout + 5*time.Second

// Patch is a PATCH on a resource: a trickle fragment, or with If-Match
// "*" an ICE restart.
type Patch struct {
	// IfMatch is the request's If-Match header.
	IfMatch string
	// Fragment is the body (application/trickle-ice-sdpfrag) as sent.
	Fragment string
	// UFrag and Password are the fragment's ICE credentials, parsed from
	// it (empty in a trickle fragment that has none).
	UFrag, Password string
}

// Restart reports whether the PATCH asks for an ICE restart.
func (p Patch) Restart() bool { return strings.TrimSpace(p.IfMatch) == "*" }

// PatchResult answers an ICE restart: the server's new ICE fragment and
// the resource's new ETag. A trickle has no answer.
type PatchResult struct {
	Fragment string
	ETag     string
}

// Remote reaches the WHIP resources held by other servers: in cluster
// mode the endpoint is one address in front of several workers, and a
// client's DELETE or PATCH may reach a worker other than the one whose
// session it addresses. A request for a resource this server does not
// hold is handed to Remote, which finds the owner (or answers an error
// wrapping ErrResourceNotFound). An error with an HTTPStatus() int method
// chooses the answer's status.
type Remote interface {
	DeleteResource(ctx context.Context, streamKey, resourceID string) error
	PatchResource(ctx context.Context, streamKey, resourceID string, p Patch) (PatchResult, error)
}

// DeleteResource ends a resource this server holds, as its client's
// DELETE does (a clean end). It fails with ErrResourceNotFound when the
// server does not hold it, or streamKey is set and is not its stream key.
func (s *Server) DeleteResource(streamKey, resourceID string) error {
	c := s.lookup(resourceID)
	if c == nil || (streamKey != "" && c.streamKey != streamKey) {
		return ErrResourceNotFound
	}
	c.log.Infow("WHIP client deleted the resource")
	c.stop(nil)
	return nil
}

// PatchResource applies a PATCH to a resource this server holds: a
// trickle fragment, or an ICE restart whose answer it returns. It fails
// with ErrResourceNotFound as DeleteResource does, and otherwise with the
// errors the endpoint answers a PATCH with (statusOf).
func (s *Server) PatchResource(ctx context.Context, streamKey, resourceID string, p Patch) (PatchResult, error) {
	c := s.lookup(resourceID)
	if c == nil || (streamKey != "" && c.streamKey != streamKey) {
		return PatchResult{}, ErrResourceNotFound
	}
	f, err := parseSDPFrag(p.Fragment)
	if err != nil {
		return PatchResult{}, err
	}
	return c.patch(ctx, p.IfMatch, f)
}

// patch applies a parsed PATCH under the signalling lock.
func (c *conn) patch(ctx context.Context, ifMatch string, f *sdpFrag) (PatchResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ifMatch = strings.TrimSpace(ifMatch)
	if ifMatch == "*" {
		frag, err := c.restartICE(ctx, f)
		if err != nil {
			return PatchResult{}, err
		}
		c.etag = newETag()
		c.log.Infow("ICE restart")
		return PatchResult{Fragment: frag, ETag: c.etag}, nil
	}
	if ifMatch != "" && strings.TrimPrefix(ifMatch, "W/") != c.etag {
		return PatchResult{}, fmt.Errorf("%w: If-Match %s is not the current ETag of the session: the ICE session was restarted", errPreconditionFailed, ifMatch)
	}
	return PatchResult{}, c.trickle(f)
}

// remote serves a DELETE or PATCH for a resource this server does not
// hold through Remote.
func (s *Server) remote(w http.ResponseWriter, r *http.Request, streamKey, resourceID string) {
	ctx, cancel := context.WithTimeout(r.Context(), RemoteTimeout)
	defer cancel()
	if r.Method == http.MethodDelete {
		if err := s.Remote.DeleteResource(ctx, streamKey, resourceID); err != nil {
			s.Logger.Infow("WHIP DELETE on another server failed", "resourceID", resourceID, "reason", err.Error())
			httpError(w, r, statusOf(err), err.Error())
			return
		}
		s.Logger.Infow("WHIP client deleted a resource held by another server", "resourceID", resourceID)
		w.WriteHeader(http.StatusOK)
		return
	}
	body, ok := readBody(w, r, contentTypeSDPFrag)
	if !ok {
		return
	}
	// Parsed here too: a bad fragment is answered without a round trip,
	// and the credentials travel parsed for a server that wants them so.
	f, err := parseSDPFrag(body)
	if err != nil {
		httpError(w, r, statusOf(err), err.Error()+contentTypeNote(r, contentTypeSDPFrag))
		return
	}
	p := Patch{IfMatch: r.Header.Get("If-Match"), Fragment: body, UFrag: f.ufrag, Password: f.pwd}
	res, err := s.Remote.PatchResource(ctx, streamKey, resourceID, p)
	if err != nil {
		s.Logger.Infow("WHIP PATCH on another server failed", "resourceID", resourceID, "reason", err.Error())
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	s.Logger.Debugw("WHIP PATCH answered by the server holding the resource", "resourceID", resourceID, "restart", p.Restart())
	writePatchResult(w, p.Restart(), res)
}

// writePatchResult answers a PATCH that succeeded: 204 for a trickle, 200
// with the new fragment and ETag for an ICE restart.
func writePatchResult(w http.ResponseWriter, restart bool, res PatchResult) {
	if !restart {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", contentTypeSDPFrag)
	if res.ETag != "" {
		w.Header().Set("ETag", res.ETag)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, res.Fragment)
}

// StatusOf returns the HTTP status the endpoint answers an error with.
func StatusOf(err error) int { return statusOf(err) }

// Proxy is a Publisher that takes no media here: the offer is handed to
// it as the client sent it and its answer goes back (cluster mode's WHIP
// proxy, where livekit-server terminates WebRTC). The resource it names
// is not held by this server: its DELETE and PATCH go through Remote.
type Proxy interface {
	Publisher
	// Forward answers the offer, or fails (ending its session) with an
	// error whose HTTPStatus() the client gets.
	Forward(ctx context.Context, offer, userAgent string) (answer, etag string, err error)
}

// ForwardTimeout bounds a Proxy's answer.
const ForwardTimeout = 20 * time.Second

// proxy answers an offer through a Proxy.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, app, key, offer string, px Proxy) {
	log := s.Logger.WithValues("resourceID", px.ResourceID(), "remote", r.RemoteAddr)
	ctx, cancel := context.WithTimeout(r.Context(), ForwardTimeout)
	defer cancel()
	answer, etag, err := px.Forward(ctx, offer, r.Header.Get("User-Agent"))
	if err != nil {
		log.Infow("WHIP offer refused", "reason", err.Error())
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	log.Infow("WHIP session started (proxied)")
	h := w.Header()
	h.Set("Content-Type", contentTypeSDP)
	h.Set("Location", "/"+app+"/"+key+"/"+px.ResourceID())
	if etag != "" {
		h.Set("ETag", etag)
	}
	h.Set("Accept-Patch", contentTypeSDPFrag)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}
