package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// pollPage is how often the tests read the console page's state.
const pollPage = 100 * time.Millisecond

// startConsoleTributary starts Tributary like startTributary, but with
// base URLs that point at its own loopback ports: the console shows
// them, the test's ffmpeg pushes to the RTMP URL it shows, and the page's
// WHIP publisher posts to the WHIP URL it shows.
func startConsoleTributary(t *testing.T, wsURL string) *tributary {
	t.Helper()
	dir := t.TempDir()
	apiPort, healthPort, rtmpPort, whipPort := freePort(t), freePort(t), freePort(t), freePort(t)
	conf := fmt.Sprintf(`api_key: devkey
api_secret: secret
development: true
ws_url: %s
api_port: %d
health_port: %d
rtmp_port: %d
whip_port: %d
store_path: %s
rtmp_base_url: rtmp://127.0.0.1:%d/live
whip_base_url: http://127.0.0.1:%d/w
logging:
  level: debug
rtc_config:
  udp_port: %d
`, wsURL, apiPort, healthPort, rtmpPort, whipPort, filepath.Join(dir, "ingress.db"), rtmpPort, whipPort, freeUDPPort(t))
	confPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))
	tr := &tributary{
		Process:    e2e.StartProcess(t, "tributary", tributaryBin, "--config", confPath),
		RTMPPort:   rtmpPort,
		WHIPPort:   whipPort,
		APIURL:     fmt.Sprintf("http://127.0.0.1:%d", apiPort),
		HealthURL:  fmt.Sprintf("http://127.0.0.1:%d", healthPort),
		ConfigPath: confPath,
	}
	ctx, cancel := tr.WithExit(context.Background())
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 20*time.Second)
	defer cancelT()
	for {
		if code, _ := httpGet(ctx, tr.HealthURL+"/availability", nil); code == http.StatusOK {
			return tr
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tributary did not become healthy: %v", context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// httpGet returns the status and body of a GET (0 on a transport error).
func httpGet(ctx context.Context, url string, header http.Header) (int, string) {
	return httpDo(ctx, http.MethodGet, url, "", header)
}

func httpDo(ctx context.Context, method, url, body string, header http.Header) (int, string) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// consolePage is the console open in headless Chromium, driven over the
// DevTools protocol.
type consolePage struct {
	*e2e.Page
	browser *e2e.Process
}

// openConsole opens url in a fresh headless Chromium (fake camera) and
// connects to it. The returned context ends when ctx does or the browser
// exits.
func openConsole(ctx context.Context, t *testing.T, url string) (*consolePage, context.Context) {
	t.Helper()
	browser := e2e.StartChromium(t, url, "--window-size=1400,1300")
	bctx, stop := browser.WithExit(ctx)
	t.Cleanup(stop)
	page, err := e2e.ConnectPage(bctx, t, browser)
	require.NoError(t, err)
	return &consolePage{Page: page, browser: browser}, bctx
}

// eval runs a statement or expression and fails the test on an error.
func (p *consolePage) eval(ctx context.Context, t *testing.T, expr string, result any) {
	t.Helper()
	require.NoError(t, p.Eval(ctx, expr, result))
}

// waitTrue waits until the JavaScript expression is true.
func (p *consolePage) waitTrue(ctx context.Context, t *testing.T, what, expr string) {
	t.Helper()
	_, err := p.WaitEval(ctx, expr, pollPage, func(v json.RawMessage) bool { return string(v) == "true" })
	require.NoError(t, err, "waiting for %s: %s", what, expr)
}

// text returns the textContent of the element with this id.
func (p *consolePage) text(ctx context.Context, t *testing.T, id string) string {
	t.Helper()
	var s string
	p.eval(ctx, t, fmt.Sprintf(`document.getElementById(%s).textContent`, jsString(id)), &s)
	return s
}

// fill sets form fields by id and fires their change events.
func (p *consolePage) fill(ctx context.Context, t *testing.T, fields map[string]string) {
	t.Helper()
	for id, v := range fields {
		p.eval(ctx, t, fmt.Sprintf(`(() => { const e = document.getElementById(%s); e.value = %s;
			e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); })()`,
			jsString(id), jsString(v)), nil)
	}
}

func (p *consolePage) click(ctx context.Context, t *testing.T, selector string) {
	t.Helper()
	p.eval(ctx, t, fmt.Sprintf(`document.querySelector(%s).click()`, jsString(selector)), nil)
}

func (p *consolePage) login(ctx context.Context, t *testing.T, key, secret string) {
	t.Helper()
	p.fill(ctx, t, map[string]string{"login-key": key, "login-secret": secret})
	p.click(ctx, t, "#login-form button[type=submit]")
}

// loginOK logs in with the right credentials and waits for the list.
func (p *consolePage) loginOK(ctx context.Context, t *testing.T) {
	t.Helper()
	p.waitTrue(ctx, t, "the login form", `!document.getElementById('login-view').hidden`)
	p.login(ctx, t, "devkey", "secret")
	p.waitTrue(ctx, t, "the ingress list", `!document.getElementById('app-view').hidden && document.getElementById('list-updated').textContent !== ''`)
}

// createIngress fills and submits the create form and waits for the new
// ingress's detail; it returns the URL and stream key shown.
func (p *consolePage) createIngress(ctx context.Context, t *testing.T, fields map[string]string) (url, key string) {
	t.Helper()
	p.fill(ctx, t, map[string]string{"create-type": fields["create-type"]}) // sets the video default
	p.fill(ctx, t, fields)
	p.click(ctx, t, "#create-submit")
	p.waitTrue(ctx, t, "the ingress detail", `!document.getElementById('detail').hidden && document.getElementById('ingress-key').textContent !== ''`)
	require.Empty(t, p.text(ctx, t, "create-error"))
	return p.text(ctx, t, "ingress-url"), p.text(ctx, t, "ingress-key")
}

// videoState is what the preview <video> shows.
type videoState struct {
	Width, Height int
	Time          float64
	Paused        bool
	Status        string
}

const videoStateJS = `(() => { const v = document.getElementById('preview-video');
	return {width: v.videoWidth, height: v.videoHeight, time: v.currentTime, paused: v.paused,
		status: document.getElementById('preview-status').textContent}; })()`

// waitVideo waits until the preview satisfies ok.
func (p *consolePage) waitVideo(ctx context.Context, t *testing.T, what string, ok func(videoState) bool) videoState {
	t.Helper()
	var vs videoState
	_, err := p.WaitEval(ctx, videoStateJS, pollPage, func(raw json.RawMessage) bool {
		return json.Unmarshal(raw, &vs) == nil && ok(vs)
	})
	require.NoError(t, err, "waiting for the preview: %s", what)
	return vs
}

// waitPlaying checks that the preview's clock advances by a second while
// the picture keeps the size wanted.
func (p *consolePage) waitPlaying(ctx context.Context, t *testing.T, w, h int) videoState {
	t.Helper()
	first := p.waitVideo(ctx, t, fmt.Sprintf("%dx%d", w, h), func(v videoState) bool { return v.Width == w && v.Height == h && !v.Paused })
	return p.waitVideo(ctx, t, fmt.Sprintf("%dx%d playing", w, h), func(v videoState) bool {
		return v.Width == w && v.Height == h && v.Time >= first.Time+1
	})
}

// setQuality picks a layer in the preview's selector.
func (p *consolePage) setQuality(ctx context.Context, t *testing.T, q string) {
	t.Helper()
	p.fill(ctx, t, map[string]string{"preview-quality": q})
}

// rowState returns the text of the state cell of the ingress's row.
func (p *consolePage) rowState(ctx context.Context, t *testing.T, id string) string {
	t.Helper()
	var s string
	p.eval(ctx, t, fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-ingress-id=%s] td.state');
		return r ? r.textContent : ''; })()`, jsString(id)), &s)
	return s
}

func (p *consolePage) waitRowState(ctx context.Context, t *testing.T, id string, parts ...string) string {
	t.Helper()
	conds := make([]string, 0, len(parts))
	for _, s := range parts {
		conds = append(conds, fmt.Sprintf("t.includes(%s)", jsString(s)))
	}
	expr := fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-ingress-id=%s] td.state');
		const t = r ? r.textContent : ''; return %s; })()`, jsString(id), strings.Join(conds, " && "))
	p.waitTrue(ctx, t, "state "+strings.Join(parts, ", "), expr)
	return p.rowState(ctx, t, id)
}

// screenshot saves the page as name.png under $TRIBUTARY_ARTIFACTS (or
// the test's temp dir) and logs where.
func (p *consolePage) screenshot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	png, err := p.Screenshot(ctx)
	require.NoError(t, err)
	dir := os.Getenv("TRIBUTARY_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// ingressByKey finds the ingress of a stream key through the API.
func ingressByKey(ctx context.Context, t *testing.T, c *lksdk.IngressClient, key string) *livekit.IngressInfo {
	t.Helper()
	res, err := c.ListIngress(ctx, &livekit.ListIngressRequest{})
	require.NoError(t, err)
	for _, i := range res.Items {
		if i.StreamKey == key {
			return i
		}
	}
	t.Fatalf("no ingress has the stream key the console shows")
	return nil
}

// TestConsoleRTMP drives the console in headless Chromium as a user
// would: a wrong login is refused, the right one shows the list; an RTMP
// ingress is created with the form; ffmpeg pushes 720p H.264 to the URL
// and key the page shows; the state column reaches PUBLISHING with the
// input described; the preview plays the ingress's video from the room,
// at the simulcast layer selected (LOW, then HIGH); a screenshot is saved.
// After logout, neither the page nor the API without the session shows
// the stream key.
func TestConsoleRTMP(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startConsoleTributary(t, lk.URL)
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	page, bctx := openConsole(ctx, t, tr.APIURL+"/")

	page.waitTrue(bctx, t, "the login form", `!document.getElementById('login-view').hidden`)
	page.login(bctx, t, "devkey", "not-the-secret")
	page.waitTrue(bctx, t, "the refusal", `!document.getElementById('login-error').hidden`)
	require.Equal(t, "Wrong API key or secret.", page.text(bctx, t, "login-error"))
	var appHidden bool
	page.eval(bctx, t, `document.getElementById('app-view').hidden`, &appHidden)
	require.True(t, appHidden)

	page.loginOK(bctx, t)
	url, key := page.createIngress(bctx, t, map[string]string{
		"create-type": "RTMP_INPUT", "create-name": "studio", "create-room": "console-rtmp",
		"create-identity": "studio-cam", "create-pname": "Studio camera",
	})
	require.Equal(t, fmt.Sprintf("rtmp://127.0.0.1:%d/live", tr.RTMPPort), url)
	info := ingressByKey(bctx, t, c, key)
	require.Equal(t, "console-rtmp", info.RoomName)
	require.Equal(t, "studio-cam", info.ParticipantIdentity)
	require.True(t, info.GetEnableTranscoding(), "RTMP defaults to the 720p preset")
	require.Equal(t, livekit.IngressVideoEncodingPreset_H264_720P_30FPS_3_LAYERS, info.Video.GetPreset())
	full := page.text(bctx, t, "ingress-full")
	require.Equal(t, url+"/"+key, full)
	var snippet string
	page.click(bctx, t, `[data-tab=ffmpeg]`)
	snippet = page.text(bctx, t, "snippet")
	require.Contains(t, snippet, `-f flv "`+full+`"`)

	ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "80", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ar", "48000", "-ac", "2", "-f", "flv", full)
	fctx, stopFF := ff.WithExit(bctx)
	defer stopFF()

	st := page.waitRowState(fctx, t, info.IngressId, "PUBLISHING", "H264 1280x720")
	t.Logf("state column: %s", st)
	require.Contains(t, st, "AAC 48 kHz 2 ch")

	page.click(fctx, t, "#preview-start")
	page.waitVideo(fctx, t, "the first picture", func(v videoState) bool { return v.Width > 0 })
	for _, q := range []struct {
		quality string
		w, h    int
	}{{"LOW", 320, 180}, {"HIGH", 1280, 720}} {
		page.setQuality(fctx, t, q.quality)
		vs := page.waitPlaying(fctx, t, q.w, q.h)
		t.Logf("preview at %s: %dx%d, t=%.1fs, %q", q.quality, vs.Width, vs.Height, vs.Time, vs.Status)
	}
	page.click(fctx, t, `[data-tab=obs]`)
	page.waitRowState(fctx, t, info.IngressId, "PUBLISHING", "fps", "b/s")
	page.screenshot(fctx, t, "console-rtmp")

	// Logged out, the page shows no key, and nothing answers with one.
	page.click(fctx, t, "#logout")
	page.waitTrue(fctx, t, "the login form", `!document.getElementById('login-view').hidden`)
	var html string
	page.eval(fctx, t, `document.documentElement.outerHTML`, &html)
	require.NotContains(t, html, key)
	// Mark the old document, so that the wait below sees the reloaded
	// one (readyState is still 'complete' on the old document for a
	// moment after reload() returns).
	page.eval(fctx, t, `window.__beforeReload = true; location.reload()`, nil)
	page.waitTrue(fctx, t, "the login form after a reload", `!window.__beforeReload && document.readyState === 'complete' && document.documentElement !== null && !document.getElementById('login-view').hidden`)
	page.eval(fctx, t, `document.documentElement.outerHTML`, &html)
	require.NotContains(t, html, key)
	var fetched string
	page.eval(fctx, t, `fetch('/console/token', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}).then((r) => r.status + ' ' + r.statusText)`, &fetched)
	require.Equal(t, "401 Unauthorized", fetched, "the old cookie is gone")
	requireNoKeyWithoutSession(fctx, t, tr.APIURL, key)
}

// requireNoKeyWithoutSession checks what the API port answers a client
// with no session and no token.
func requireNoKeyWithoutSession(ctx context.Context, t *testing.T, apiURL, key string) {
	t.Helper()
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	for _, r := range []struct {
		method, path, body string
		code               int
	}{
		{"GET", "/", "", http.StatusOK},
		{"GET", "/console.js", "", http.StatusOK},
		{"GET", "/console/session", "", http.StatusUnauthorized},
		{"POST", "/console/token", "{}", http.StatusUnauthorized},
		{"POST", "/console/room-token", `{"room":"console-rtmp"}`, http.StatusUnauthorized},
		{"POST", "/twirp/livekit.Ingress/ListIngress", "{}", http.StatusUnauthorized},
	} {
		code, body := httpDo(ctx, r.method, apiURL+r.path, r.body, jsonHdr)
		require.Equal(t, r.code, code, "%s %s: %s", r.method, r.path, body)
		require.NotContains(t, body, key, "%s %s", r.method, r.path)
	}
	code, body := httpDo(ctx, "POST", apiURL+"/console/login", `{"api_key":"devkey","api_secret":"wrong"}`, jsonHdr)
	require.Equal(t, http.StatusUnauthorized, code)
	require.JSONEq(t, `{"error":"wrong API key or secret"}`, body)
}

// TestConsoleWHIP creates a WHIP ingress with the console and publishes
// the browser's (fake) camera with its "publish this camera" button: the
// preview starts by itself and plays the camera (passthrough, one layer),
// the state column shows PUBLISHING with VP8 and Opus, and stopping the
// publication brings the ingress back to INACTIVE.
func TestConsoleWHIP(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startConsoleTributary(t, lk.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	page, bctx := openConsole(ctx, t, tr.APIURL+"/")

	page.loginOK(bctx, t)
	url, key := page.createIngress(bctx, t, map[string]string{
		"create-type": "WHIP_INPUT", "create-name": "browser", "create-room": "console-whip",
		"create-identity": "browser-cam", "create-pname": "Browser camera",
	})
	require.Equal(t, fmt.Sprintf("http://127.0.0.1:%d/w", tr.WHIPPort), url)
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	info := ingressByKey(bctx, t, c, key)
	require.False(t, info.GetEnableTranscoding(), "WHIP defaults to passthrough")

	page.waitTrue(bctx, t, "the publish button", `!document.getElementById('whip-publish').hidden`)
	page.click(bctx, t, "#whip-start")
	page.waitTrue(bctx, t, "the WHIP session", `document.getElementById('whip-resource').textContent !== ''`)
	resource := page.text(bctx, t, "whip-resource")
	require.Regexp(t, fmt.Sprintf(`^http://127\.0\.0\.1:%d/w/%s/WH_\w{12}$`, tr.WHIPPort, key), resource)

	// The size is the camera's (1280x720) once the browser's bandwidth
	// estimate allows it; playing is what matters here.
	first := page.waitVideo(bctx, t, "the first picture", func(v videoState) bool { return v.Width > 0 && !v.Paused })
	vs := page.waitVideo(bctx, t, "playing", func(v videoState) bool { return v.Width > 0 && v.Time >= first.Time+1 })
	t.Logf("preview: %dx%d, t=%.1fs, %q", vs.Width, vs.Height, vs.Time, vs.Status)
	st := page.waitRowState(bctx, t, info.IngressId, "PUBLISHING", "VP8 ", "OPUS")
	t.Logf("state column: %s", st)
	page.screenshot(bctx, t, "console-whip")

	page.click(bctx, t, "#whip-stop")
	page.waitRowState(bctx, t, info.IngressId, "INACTIVE")
	page.waitVideo(bctx, t, "the preview to notice the end", func(v videoState) bool {
		return strings.HasPrefix(v.Status, "waiting for browser-cam")
	})
}
