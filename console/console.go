// Package console serves Tributary's web console: a small page, embedded in
// the binary, that lists the ingresses with their state, creates them, shows
// their URL, stream key and encoder settings, previews what an ingress
// publishes in its room (livekit-client, bundled from npm at build time by
// build.sh into dist/console.js), and publishes a browser camera to a WHIP
// ingress.
//
// Access needs the API key and secret. A login checks them and opens a
// server-side session named by an HttpOnly, SameSite=Strict cookie, which
// expires after SessionIdle without use (and after SessionMax at most); the
// page never holds the secret. With the session, the page asks for
// short-lived tokens: an ingressAdmin token for the Twirp livekit.Ingress
// API (the same API as every other client, with the same checks), and a
// hidden, subscribe-only token for one room to preview it. Without a session
// the page is an empty shell: no ingress, and no stream key, is served.
//
// Routes (mounted at "/" of the API port, beside /twirp/):
//
//	GET  /                         the page
//	GET  /console.js, /console.css the page's assets
//	POST /console/login            {"api_key","api_secret"} → session cookie
//	POST /console/logout           ends the session
//	GET  /console/session          200 with the session, or 401
//	POST /console/token            ingressAdmin API token (needs the session)
//	POST /console/room-token       {"room"} → subscribe-only token (needs the session)
package console

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/logger"
)

// Defaults of the Console's durations.
const (
	// DefaultSessionIdle ends a session not used for this long.
	DefaultSessionIdle = time.Hour
	// DefaultSessionMax ends a session this long after the login, used or not.
	DefaultSessionMax = 12 * time.Hour
	// DefaultTokenTTL is the validity of the tokens minted for the page. The
	// page asks for a new API token before its token expires; LiveKit renews
	// the room token of a connected participant itself.
	DefaultTokenTTL = 5 * time.Minute
	// maxSessions bounds the live sessions: a login beyond it ends the
	// oldest one.
	maxSessions = 1000
	// maxBody bounds the JSON bodies the console reads.
	maxBody = 4 << 10
	// maxRoomName bounds a room name asked for a preview token.
	maxRoomName = 256
	// cookieName names the session cookie.
	cookieName = "tributary_console"
)

// Console is the console's HTTP handler. Set the fields, call Initialize,
// then mount it at "/".
type Console struct {
	// APIKey and APISecret are the LiveKit key pair of the config: the
	// login's credentials, and what the minted tokens are signed with.
	APIKey, APISecret string
	// WsURL is the LiveKit server the page connects to for previews (the
	// config's ws_url): it must be reachable from the browser.
	WsURL string
	// Logger receives logins, refusals and logouts; nil is the default
	// logger.
	Logger logger.Logger
	// SessionIdle, SessionMax and TokenTTL default to DefaultSessionIdle,
	// DefaultSessionMax and DefaultTokenTTL.
	SessionIdle, SessionMax, TokenTTL time.Duration
	// Now is the clock; nil is time.Now. Tests set it.
	Now func() time.Time
	// SecureCookies marks the session cookie Secure on every response (the
	// config's secure_cookies), for a console served over plain HTTP
	// behind a TLS-terminating proxy; without it the cookie is Secure
	// when the request itself came over TLS.
	SecureCookies bool

	mux      *http.ServeMux
	sessions *sessions
	logins   *loginLimiter
}

// Initialize checks the configuration and builds the routes.
func (c *Console) Initialize() error {
	if c.APIKey == "" || c.APISecret == "" {
		return errors.New("console: api_key and api_secret are required")
	}
	if c.Logger == nil {
		c.Logger = logger.GetLogger()
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = DefaultSessionIdle
	}
	if c.SessionMax <= 0 {
		c.SessionMax = DefaultSessionMax
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.sessions = newSessions(c.Now, c.SessionIdle, c.SessionMax, maxSessions)
	c.logins = newLoginLimiter(c.Now)
	m := http.NewServeMux()
	for pattern, name := range map[string]string{
		"GET /{$}": "index.html", "GET /console.js": "console.js", "GET /console.css": "console.css",
	} {
		h, err := assetHandler(name)
		if err != nil {
			return err
		}
		m.HandleFunc(pattern, h)
	}
	m.HandleFunc("POST /console/login", c.login)
	m.HandleFunc("POST /console/logout", c.logout)
	m.HandleFunc("GET /console/session", c.withSession(c.session))
	m.HandleFunc("POST /console/token", c.withSession(c.apiToken))
	m.HandleFunc("POST /console/room-token", c.withSession(c.roomToken))
	c.mux = m
	return nil
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin tells whether a state-changing request comes from the
// console's own page. SameSite=Strict already keeps the cookie off
// cross-site requests; this also refuses cross-origin logins, and the
// JSON content type forces a CORS preflight that the console never answers.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	ct := r.Header.Get("Content-Type")
	return ct == "" || strings.HasPrefix(ct, "application/json")
}

type loginRequest struct {
	APIKey    string `json:"api_key"`
	APISecret string `json:"api_secret"`
}

// sessionInfo is what the page learns about its session.
type sessionInfo struct {
	APIKey    string `json:"api_key"`
	WsURL     string `json:"ws_url"`
	ExpiresAt int64  `json:"expires_at"` // unix ms, if left idle
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if wait := c.logins.begin(r.RemoteAddr); wait > 0 {
		tooManyLogins(w, wait)
		return
	}
	keyOK := subtle.ConstantTimeCompare([]byte(req.APIKey), []byte(c.APIKey)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(req.APISecret), []byte(c.APISecret)) == 1
	if !keyOK || !secretOK {
		wait := c.logins.wait(r.RemoteAddr)
		c.Logger.Infow("console login refused", "remote", r.RemoteAddr, "reason", "wrong API key or secret", "nextAttemptIn", wait)
		if wait > 0 {
			tooManyLogins(w, wait)
			return
		}
		writeError(w, http.StatusUnauthorized, "wrong API key or secret")
		return
	}
	c.logins.succeeded(r.RemoteAddr)
	id, s := c.sessions.open()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.SecureCookies || r.TLS != nil,
	})
	c.Logger.Infow("console login", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, c.info(s))
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.sessions.close(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.SecureCookies || r.TLS != nil,
	})
	w.WriteHeader(http.StatusNoContent)
}

// tooManyLogins refuses a login attempt from an address that must wait.
func tooManyLogins(w http.ResponseWriter, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many wrong logins from this address: try again in %d s", secs))
}

// withSession runs h only for a request carrying a live session, which it
// extends; others get 401.
func (c *Console) withSession(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ck, err := r.Cookie(cookieName)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "not logged in")
			return
		}
		s, ok := c.sessions.touch(ck.Value)
		if !ok {
			writeError(w, http.StatusUnauthorized, "the session has expired: log in again")
			return
		}
		h(w, r, s)
	}
}

func (c *Console) info(s session) sessionInfo {
	return sessionInfo{APIKey: c.APIKey, WsURL: c.WsURL, ExpiresAt: s.expires(c.SessionIdle, c.SessionMax).UnixMilli()}
}

func (c *Console) session(w http.ResponseWriter, _ *http.Request, s session) {
	writeJSON(w, http.StatusOK, c.info(s))
}

// tokenResponse carries a minted token.
type tokenResponse struct {
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expires_at"` // unix ms
	WsURL     string `json:"ws_url,omitempty"`
	Identity  string `json:"identity,omitempty"`
}

func (c *Console) apiToken(w http.ResponseWriter, _ *http.Request, _ session) {
	at := auth.NewAccessToken(c.APIKey, c.APISecret).
		SetIdentity("tributary-console").
		SetVideoGrant(&auth.VideoGrant{IngressAdmin: true}).
		SetValidFor(c.TokenTTL)
	c.writeToken(w, at, tokenResponse{})
}

type roomTokenRequest struct {
	Room string `json:"room"`
}

func (c *Console) roomToken(w http.ResponseWriter, r *http.Request, _ session) {
	var req roomTokenRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Room == "" || len(req.Room) > maxRoomName {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("room: required, at most %d bytes", maxRoomName))
		return
	}
	identity := "tributary-console-" + randomID(6)
	no, yes := false, true
	at := auth.NewAccessToken(c.APIKey, c.APISecret).
		SetIdentity(identity).
		SetName("Tributary console").
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin: true, Room: req.Room, Hidden: true,
			CanSubscribe: &yes, CanPublish: &no, CanPublishData: &no, CanUpdateOwnMetadata: &no,
		}).
		SetValidFor(c.TokenTTL)
	c.writeToken(w, at, tokenResponse{WsURL: c.WsURL, Identity: identity})
}

func (c *Console) writeToken(w http.ResponseWriter, at *auth.AccessToken, res tokenResponse) {
	exp := c.Now().Add(c.TokenTTL)
	jwt, err := at.ToJWT()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot sign the token: "+err.Error())
		return
	}
	res.Token, res.ExpiresAt = jwt, exp.UnixMilli()
	writeJSON(w, http.StatusOK, res)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorResponse is the body of every refusal: {"error": "..."}.
type errorResponse struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorResponse{Error: msg})
}
