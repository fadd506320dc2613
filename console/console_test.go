package console

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/logger"
	"github.com/stretchr/testify/require"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newConsole(t *testing.T) (*Console, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := &Console{
		APIKey: "devkey", APISecret: "secret", WsURL: "ws://lk.test:7880",
		Logger: logger.GetLogger(), Now: clk.now,
		SessionIdle: time.Hour, SessionMax: 3 * time.Hour,
	}
	require.NoError(t, c.Initialize())
	return c, clk
}

type request struct {
	method, path, body string
	cookie             *http.Cookie
	header             map[string]string
	remote             string
}

func do(c *Console, r request) *httptest.ResponseRecorder {
	req := httptest.NewRequest(r.method, "http://console.test"+r.path, strings.NewReader(r.body))
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	if r.cookie != nil {
		req.AddCookie(r.cookie)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, req)
	return w
}

func loginCookie(t *testing.T, c *Console) *http.Cookie {
	t.Helper()
	w := do(c, request{method: "POST", path: "/console/login", body: `{"api_key":"devkey","api_secret":"secret"}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	return cookies[0]
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e errorResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
	return e.Error
}

func TestLogin(t *testing.T) {
	c, _ := newConsole(t)
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"wrong secret", `{"api_key":"devkey","api_secret":"nope"}`, 401, "wrong API key or secret"},
		{"wrong key", `{"api_key":"other","api_secret":"secret"}`, 401, "wrong API key or secret"},
		{"empty", `{"api_key":"","api_secret":""}`, 401, "wrong API key or secret"},
		{"not JSON", `api_key=devkey`, 400, "invalid JSON body"},
		{"unknown field", `{"key":"devkey"}`, 400, "invalid JSON body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(c, request{method: "POST", path: "/console/login", body: tc.body})
			require.Equal(t, tc.code, w.Code)
			require.Contains(t, errorOf(t, w), tc.msg)
			require.Empty(t, w.Result().Cookies(), "no session on a refused login")
		})
	}

	ck := loginCookie(t, c)
	require.Equal(t, cookieName, ck.Name)
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.Equal(t, "/", ck.Path)
	require.GreaterOrEqual(t, len(ck.Value), 40, "a random id of 32 bytes")

	w := do(c, request{method: "GET", path: "/console/session", cookie: ck})
	require.Equal(t, http.StatusOK, w.Code)
	var s sessionInfo
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s))
	require.Equal(t, "devkey", s.APIKey)
	require.Equal(t, "ws://lk.test:7880", s.WsURL)
	require.NotContains(t, w.Body.String(), "secret")
}

// TestLoginBackoff: after five wrong logins an address waits before its
// next attempt is even looked at (the right secret included), the wait
// doubling; other addresses are not affected; a good login after the
// wait clears the count. Without it, the secret could be guessed as fast
// as the port answers.
func TestLoginBackoff(t *testing.T) {
	c, clk := newConsole(t)
	wrong := `{"api_key":"devkey","api_secret":"nope"}`
	good := `{"api_key":"devkey","api_secret":"secret"}`
	login := func(remote, body string) *httptest.ResponseRecorder {
		return do(c, request{method: "POST", path: "/console/login", body: body, remote: remote})
	}
	const attacker = "203.0.113.7:4000"
	for i := range 4 {
		require.Equal(t, http.StatusUnauthorized, login(attacker, wrong).Code, "attempt %d", i+1)
	}
	w := login(attacker, wrong)
	require.Equal(t, http.StatusTooManyRequests, w.Code, "the fifth wrong login starts the wait")
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.Contains(t, errorOf(t, w), "too many wrong logins from this address: try again in 1 s")

	w = login(attacker, good)
	require.Equal(t, http.StatusTooManyRequests, w.Code, "while waiting even the right secret is not looked at")
	require.Empty(t, w.Result().Cookies())
	// Another port of the same address, and an IPv4-mapped form of it,
	// count as the same client; another address is served.
	require.Equal(t, http.StatusTooManyRequests, login("203.0.113.7:4001", good).Code)
	require.Equal(t, http.StatusTooManyRequests, login("[::ffff:203.0.113.7]:4001", good).Code)
	require.Equal(t, http.StatusOK, login("198.51.100.1:5000", good).Code)

	clk.advance(time.Second)
	require.Equal(t, http.StatusTooManyRequests, login(attacker, wrong).Code)
	clk.advance(time.Second)
	require.Equal(t, http.StatusTooManyRequests, login(attacker, wrong).Code, "still waiting: 2 s now")
	clk.advance(2 * time.Second)
	w = login(attacker, wrong)
	require.Equal(t, "4", w.Header().Get("Retry-After"), "the wait doubles")
	for range 20 {
		clk.advance(maxLoginWait)
		w = login(attacker, wrong)
	}
	require.Equal(t, "300", w.Header().Get("Retry-After"), "the wait is at most 5 min")
	clk.advance(loginFailureMemory + time.Second)
	require.Equal(t, http.StatusUnauthorized, login(attacker, wrong).Code, "failures are forgotten 15 min after the last one")

	// IPv6 clients are counted by their /64.
	for i := range 5 {
		login(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1), wrong)
	}
	require.Equal(t, http.StatusTooManyRequests, login("[2001:db8:1:2::99]:443", good).Code)
	require.Equal(t, http.StatusOK, login("[2001:db8:1:3::1]:443", good).Code)

	clk.advance(time.Hour)
	require.Equal(t, http.StatusOK, login(attacker, good).Code)
	require.Equal(t, http.StatusUnauthorized, login(attacker, wrong).Code, "a good login clears the count")
}

// TestLoginAddressesBounded: the table keeps at most maxLoginAddresses
// addresses; one that is waiting is never forgotten to make room (a
// client with many addresses could flush its own wait), and when every
// address in it waits, the newcomers share one count.
func TestLoginAddressesBounded(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newLoginLimiter(clk.now)
	addr := func(i int) string { return fmt.Sprintf("10.%d.%d.%d:1", i>>16&0xff, i>>8&0xff, i&0xff) }
	for i := range maxLoginAddresses + 500 {
		clk.advance(time.Millisecond)
		l.begin(addr(i))
	}
	require.Len(t, l.by, maxLoginAddresses)
	require.Zero(t, l.wait(addr(0)), "the oldest addresses went first")

	// Every address waits: a new one shares the overflow count, and the
	// waiting ones stay.
	l = newLoginLimiter(clk.now)
	for i := range maxLoginAddresses {
		for range freeLoginFailures {
			l.begin(addr(i))
		}
	}
	require.Positive(t, l.wait(addr(7)))
	for i := range freeLoginFailures {
		require.Zero(t, l.begin(addr(maxLoginAddresses+i)), "newcomer %d", i)
	}
	require.Positive(t, l.begin(addr(maxLoginAddresses+100)), "the newcomers share one count")
	require.Positive(t, l.wait(addr(7)), "a waiting address was not forgotten")
}

// TestLoginBackoffConcurrent: attempts sent at the same moment are counted
// before their credentials are looked at, so no more than
// freeLoginFailures of them are checked.
func TestLoginBackoffConcurrent(t *testing.T) {
	c, _ := newConsole(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := do(c, request{method: "POST", path: "/console/login", body: `{"api_key":"devkey","api_secret":"nope"}`, remote: "203.0.113.9:1"})
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, codes[http.StatusUnauthorized], freeLoginFailures, "attempts whose credentials were checked")
	require.Equal(t, 64, codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests])
	require.GreaterOrEqual(t, codes[http.StatusTooManyRequests], 64-freeLoginFailures)
}

// TestSecureCookies: behind a TLS-terminating proxy the request reaches
// the console over plain HTTP; secure_cookies marks the cookie Secure
// anyway (without it, only a request over TLS gets a Secure cookie).
func TestSecureCookies(t *testing.T) {
	c, _ := newConsole(t)
	require.False(t, loginCookie(t, c).Secure)
	c.SecureCookies = true
	require.True(t, loginCookie(t, c).Secure)
	w := do(c, request{method: "POST", path: "/console/logout"})
	require.True(t, w.Result().Cookies()[0].Secure)
}

// TestNeedsSession checks that every endpoint that hands out anything
// refuses a request without a live session.
func TestNeedsSession(t *testing.T) {
	c, _ := newConsole(t)
	bogus := &http.Cookie{Name: cookieName, Value: "forged"}
	for _, r := range []request{
		{method: "GET", path: "/console/session"},
		{method: "POST", path: "/console/token", body: `{}`},
		{method: "POST", path: "/console/room-token", body: `{"room":"stage"}`},
		{method: "GET", path: "/console/session", cookie: bogus},
		{method: "POST", path: "/console/token", body: `{}`, cookie: bogus},
	} {
		w := do(c, r)
		require.Equal(t, http.StatusUnauthorized, w.Code, "%s %s", r.method, r.path)
		require.NotContains(t, w.Body.String(), "token\"")
	}
}

func TestSessionExpiry(t *testing.T) {
	c, clk := newConsole(t)
	ck := loginCookie(t, c)
	ok := func() bool {
		return do(c, request{method: "GET", path: "/console/session", cookie: ck}).Code == http.StatusOK
	}

	// Used every 50 minutes, the session lives until SessionMax.
	for range 3 {
		clk.advance(50 * time.Minute)
		require.True(t, ok())
	}
	clk.advance(31 * time.Minute) // 3h01 after the login
	require.False(t, ok(), "SessionMax ends it even when used")

	ck = loginCookie(t, c)
	clk.advance(time.Hour)
	require.False(t, ok(), "SessionIdle without use ends it")

	ck = loginCookie(t, c)
	w := do(c, request{method: "POST", path: "/console/logout", body: `{}`, cookie: ck})
	require.Equal(t, http.StatusNoContent, w.Code)
	require.Equal(t, -1, w.Result().Cookies()[0].MaxAge)
	require.False(t, ok(), "logout ends it")
}

func TestSessionsBounded(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	ss := newSessions(clk.now, time.Hour, 2*time.Hour, 3)
	var ids []string
	for range 5 {
		clk.advance(time.Second)
		id, _ := ss.open()
		ids = append(ids, id)
	}
	require.Len(t, ss.byID, 3)
	_, ok := ss.touch(ids[0])
	require.False(t, ok, "the least recently used session goes first")
	_, ok = ss.touch(ids[4])
	require.True(t, ok)
}

func TestTokens(t *testing.T) {
	c, _ := newConsole(t)
	ck := loginCookie(t, c)

	w := do(c, request{method: "POST", path: "/console/token", body: `{}`, cookie: ck})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	var tr tokenResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &tr))
	grants := verify(t, tr.Token)
	require.True(t, grants.Video.IngressAdmin)
	require.False(t, grants.Video.RoomJoin)

	w = do(c, request{method: "POST", path: "/console/room-token", body: `{"room":"stage"}`, cookie: ck})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &tr))
	require.Equal(t, "ws://lk.test:7880", tr.WsURL)
	grants = verify(t, tr.Token)
	require.Equal(t, tr.Identity, grants.Identity)
	v := grants.Video
	require.True(t, v.RoomJoin)
	require.Equal(t, "stage", v.Room)
	require.True(t, v.Hidden, "the preview is not a participant others see")
	require.True(t, v.GetCanSubscribe())
	require.False(t, v.GetCanPublish(), "subscribe-only")
	require.False(t, v.GetCanPublishData())
	require.False(t, v.IngressAdmin)

	for _, body := range []string{`{}`, `{"room":""}`, `{"room":"` + strings.Repeat("r", maxRoomName+1) + `"}`} {
		w = do(c, request{method: "POST", path: "/console/room-token", body: body, cookie: ck})
		require.Equal(t, http.StatusBadRequest, w.Code, body)
	}
}

func verify(t *testing.T, token string) *auth.ClaimGrants {
	t.Helper()
	v, err := auth.ParseAPIToken(token)
	require.NoError(t, err)
	require.Equal(t, "devkey", v.APIKey())
	_, grants, err := v.Verify("secret")
	require.NoError(t, err)
	return grants
}

func TestCrossOriginRefused(t *testing.T) {
	c, _ := newConsole(t)
	ck := loginCookie(t, c)
	for _, h := range []map[string]string{
		{"Origin": "https://evil.test"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Content-Type": "text/plain"},
		{"Content-Type": "application/x-www-form-urlencoded"},
	} {
		w := do(c, request{method: "POST", path: "/console/login", body: `{"api_key":"devkey","api_secret":"secret"}`, header: h})
		require.Equal(t, http.StatusForbidden, w.Code, "%v", h)
		w = do(c, request{method: "POST", path: "/console/token", body: `{}`, cookie: ck, header: h})
		require.Equal(t, http.StatusForbidden, w.Code, "%v", h)
	}
	w := do(c, request{method: "POST", path: "/console/token", body: `{}`, cookie: ck, header: map[string]string{"Origin": "http://console.test"}})
	require.Equal(t, http.StatusOK, w.Code, "same origin")
}

func TestAssets(t *testing.T) {
	c, _ := newConsole(t)
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="/console.js"`},
		{"/console.js", "text/javascript; charset=utf-8", "livekit"},
		{"/console.css", "text/css; charset=utf-8", "--accent"},
	} {
		w := do(c, request{method: "GET", path: tc.path})
		require.Equal(t, http.StatusOK, w.Code, tc.path)
		require.Equal(t, tc.ctype, w.Header().Get("Content-Type"))
		require.Contains(t, w.Body.String(), tc.contains)
		etag := w.Header().Get("ETag")
		require.NotEmpty(t, etag)
		w = do(c, request{method: "GET", path: tc.path, header: map[string]string{"If-None-Match": etag}})
		require.Equal(t, http.StatusNotModified, w.Code)
	}
	w := do(c, request{method: "GET", path: "/"})
	require.Contains(t, w.Header().Get("Content-Security-Policy"), "script-src 'self'")
	require.Equal(t, http.StatusNotFound, do(c, request{method: "GET", path: "/nope"}).Code)
	require.Equal(t, http.StatusNotFound, do(c, request{method: "GET", path: "/dist/console.js"}).Code)
}

// sourcesHash is the hash build.sh writes into the bundle's first line:
// SHA-256 over each source's path, a NUL and its bytes.
func sourcesHash(t *testing.T) string {
	t.Helper()
	srcs, err := filepath.Glob("web/src/*.js")
	require.NoError(t, err)
	require.NotEmpty(t, srcs)
	names := []string{"package.json", "package-lock.json"}
	var js []string
	for _, s := range srcs {
		js = append(js, strings.TrimPrefix(filepath.ToSlash(s), "web/"))
	}
	sort.Strings(js)
	h := sha256.New()
	for _, n := range append(names, js...) {
		b, err := os.ReadFile(filepath.Join("web", n))
		require.NoError(t, err)
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestBundleUpToDate checks that the committed dist/console.js was built
// by build.sh from the sources as they are: edit web/ and forget to
// rebuild, and this fails.
func TestBundleUpToDate(t *testing.T) {
	b, err := assets.ReadFile("dist/console.js")
	require.NoError(t, err)
	require.Greater(t, len(b), 100_000, "the bundle holds livekit-client")
	first, err := bufio.NewReader(bytes.NewReader(b)).ReadString('\n')
	require.NoError(t, err)
	want := sourcesHash(t)
	require.Contains(t, first, "sources sha256:"+want, "dist/console.js is stale: run console/build.sh")

	var pkg struct {
		Dependencies, DevDependencies map[string]string
	}
	raw, err := os.ReadFile("web/package.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &pkg))
	for name, v := range pkg.Dependencies {
		require.Regexp(t, `^\d+\.\d+\.\d+$`, v, "%s must be pinned to an exact version", name)
	}
	for name, v := range pkg.DevDependencies {
		require.Regexp(t, `^\d+\.\d+\.\d+$`, v, "%s must be pinned to an exact version", name)
	}
}
