package whip

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/tributary-ingress/tributary/ingest/rtpdepack"
)

// Content types of the WHIP exchange.
const (
	contentTypeSDP     = "application/sdp"
	contentTypeSDPFrag = "application/trickle-ice-sdpfrag"
)

// Handler returns the HTTP handler of the endpoint (Initialize serves it).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w, r)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		parts = nil
	}
	switch {
	case r.Method == http.MethodOptions:
		w.Header().Set("Accept-Post", contentTypeSDP)
		w.Header().Set("Accept-Patch", contentTypeSDPFrag)
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 1 && (parts[0] == "health" || parts[0] == "availability") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.health(w, r, parts[0])
	case r.Method == http.MethodPost && (len(parts) == 1 || len(parts) == 2):
		s.post(w, r, parts)
	case (r.Method == http.MethodDelete || r.Method == http.MethodPatch) && len(parts) == 3:
		c := s.lookup(parts[2])
		if c == nil && s.Remote != nil {
			s.remote(w, r, parts[1], parts[2])
			return
		}
		if c == nil || c.streamKey != parts[1] {
			httpError(w, r, http.StatusNotFound, ErrResourceNotFound.Error())
			return
		}
		if r.Method == http.MethodDelete {
			c.log.Infow("WHIP client deleted the resource")
			c.stop(nil)
			w.WriteHeader(http.StatusOK)
			return
		}
		s.patch(w, r, c)
	case len(parts) == 0:
		httpError(w, r, http.StatusNotFound, "POST the SDP offer to /<app>/<stream_key>, or to /<app> with Authorization: Bearer <stream_key>")
	default:
		w.Header().Set("Allow", "POST, PATCH, DELETE, OPTIONS")
		httpError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not part of WHIP: POST /<app>/<stream_key> creates a session, PATCH and DELETE go to its Location", r.Method, r.URL.Path))
	}
}

// health serves /health (the health port's /) and /availability from
// the Health handler.
func (s *Server) health(w http.ResponseWriter, r *http.Request, what string) {
	if s.Health == nil {
		if what == "availability" {
			httpError(w, r, http.StatusNotFound, "/availability is served on health_port")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "OK\n")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/"
	if what == "availability" {
		r2.URL.Path = "/availability"
	}
	r2.URL.RawPath = ""
	s.Health.ServeHTTP(w, r2)
}

// setCORS lets a page on any origin publish: the stream key is the
// credential, as with any WHIP endpoint.
func setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Accept-Patch, Accept-Post, Link")
	h.Set("Access-Control-Max-Age", "86400")
}

// httpError writes a reason a client can act on: JSON when it asks for
// JSON, plain text otherwise.
func httpError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrStreamKeyNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBadOffer), errors.Is(err, rtpdepack.ErrUnsupported):
		return http.StatusBadRequest
	case errors.Is(err, errUfragMismatch):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrResourceNotFound):
		return http.StatusNotFound
	case errors.Is(err, errPreconditionFailed):
		return http.StatusPreconditionFailed
	}
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		return hs.HTTPStatus()
	}
	return http.StatusInternalServerError
}

// readBody reads a request body of at most MaxBodySize. The Content-Type
// is not enforced, as the official worker does not enforce it (encoders
// send none, text/plain, or application/sdp for a trickle fragment): a
// body that is not what the request needs fails to parse, with an error
// that names the Content-Type it came with when that was not want.
func readBody(w http.ResponseWriter, r *http.Request, want string) (string, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBodySize))
		} else {
			httpError(w, r, http.StatusBadRequest, "cannot read the body: "+err.Error())
		}
		return "", false
	}
	return string(b), true
}

// contentTypeNote is a hint for a parse error: the request's
// Content-Type when it was not the expected one.
func contentTypeNote(r *http.Request, want string) string {
	got := r.Header.Get("Content-Type")
	if ct, _, err := mime.ParseMediaType(got); err == nil && ct == want {
		return ""
	}
	return fmt.Sprintf(" (the request's Content-Type was %q; a WHIP client sends %s)", got, want)
}

// bearer returns the stream key of an Authorization header: the token of
// "Bearer <key>", or, as the official worker also takes it from clients
// that leave the scheme out, a bare "<key>".
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if h != "" && !strings.ContainsAny(h, " \t") {
		return h
	}
	return ""
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, parts []string) {
	app := parts[0]
	var key string
	if len(parts) == 2 {
		key = parts[1]
	} else if key = bearer(r); key == "" {
		httpError(w, r, http.StatusUnauthorized, "no stream key: POST to /"+app+"/<stream_key> or send Authorization: Bearer <stream_key>")
		return
	}
	body, ok := readBody(w, r, contentTypeSDP)
	if !ok {
		return
	}
	o, err := parseOffer(body)
	if err != nil {
		httpError(w, r, statusOf(err), err.Error()+contentTypeNote(r, contentTypeSDP))
		return
	}
	pub, err := s.Authorizer.AuthorizeWHIP(key, r.RemoteAddr)
	if err != nil {
		s.Logger.Infow("WHIP publish refused", "reason", err.Error(), "remote", r.RemoteAddr)
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	if px, ok := pub.(Proxy); ok {
		s.proxy(w, r, app, key, body, px)
		return
	}
	c := &conn{
		s: s, id: pub.ResourceID(), streamKey: key, pub: pub, etag: newETag(), end: make(chan error, 1),
		log: sessionLogger(s.Logger, pub).WithValues("remote", r.RemoteAddr),
	}
	if at, ok := pub.(AudioTranscodingPublisher); ok {
		c.g711 = at.TranscodesAudio()
	}
	err = o.check(c.g711)
	var answer string
	var n Negotiated
	if err == nil {
		answer, n, err = c.negotiate(r.Context(), o)
	}
	if err == nil {
		err = pub.Start(n)
	}
	if err == nil {
		err = s.add(c)
	}
	if err != nil {
		c.tracksMu.Lock()
		c.closed = true
		c.tracksMu.Unlock()
		if c.pc != nil {
			_ = c.pc.Close()
		}
		c.readers.Wait()
		pub.Close(err)
		c.log.Infow("WHIP offer refused", "reason", err.Error())
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	go c.run()
	c.log.Infow("WHIP session started", "video", codecName(n.Video), "rids", strings.Join(n.VideoRIDs, ","), "audio", codecName(n.Audio))
	h := w.Header()
	h.Set("Content-Type", contentTypeSDP)
	h.Set("Location", "/"+app+"/"+key+"/"+c.id)
	h.Set("ETag", c.etag)
	h.Set("Accept-Patch", contentTypeSDPFrag)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func codecName(c *webrtc.RTPCodecParameters) string {
	if c == nil {
		return "none"
	}
	return c.MimeType
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, c *conn) {
	body, ok := readBody(w, r, contentTypeSDPFrag)
	if !ok {
		return
	}
	f, err := parseSDPFrag(body)
	if err != nil {
		httpError(w, r, statusOf(err), err.Error()+contentTypeNote(r, contentTypeSDPFrag))
		return
	}
	ifMatch := r.Header.Get("If-Match")
	res, err := c.patch(r.Context(), ifMatch, f)
	if err != nil {
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	writePatchResult(w, Patch{IfMatch: ifMatch}.Restart(), res)
}
