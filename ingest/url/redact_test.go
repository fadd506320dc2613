package url

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@cdn.example/live/a.m3u8?sig=abc&exp=1#frag": "https://cdn.example/live/a.m3u8?…",
		"srt://host:9000?streamid=key&passphrase=secret123456":       "srt://host:9000?…",
		"rtsp://admin:admin@cam.local:554/stream1":                   "rtsp://cam.local:554/stream1",
		"http://host/file.mp4":                                       "http://host/file.mp4",
		"http://host/file.mp4?":                                      "http://host/file.mp4?…",
		"http://[::1]:80/%zz":                                        "(unparsable URL)",
	} {
		require.Equal(t, want, Redact(in), in)
	}
}

func TestRedactText(t *testing.T) {
	for in, want := range map[string]string{
		"fetching segment https://cdn.example/s1.ts?token=abc: HTTP 403":     "fetching segment https://cdn.example/s1.ts?…: HTTP 403",
		`Get "http://u:p@h/x?k=v": dial tcp: refused`:                        `Get "http://h/x?…": dial tcp: refused`,
		"playlist http://h/a.m3u8?x=1 (and http://h/b.m3u8?y=2).":            "playlist http://h/a.m3u8?… (and http://h/b.m3u8?…).",
		"RTSP rtsp://admin:secret@10.0.0.9/live: DESCRIBE: 401 Unauthorized": "RTSP rtsp://10.0.0.9/live: DESCRIBE: 401 Unauthorized",
		"no URL here": "no URL here",
	} {
		require.Equal(t, want, redactText(in), in)
	}
}

// TestErrorsQuoteNoBody: a response that is not media is described by its
// content type and length, never by its bytes (which would let whoever
// reads the ingress state read what the server fetched), and no URL in an
// error carries credentials or a query string.
func TestErrorsQuoteNoBody(t *testing.T) {
	const secret = "INTERNAL-SECRET-7f3a"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page.mp4":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte("<!doctype html><title>" + secret + "</title>"))
		case "/api.ts":
			w.Header().Set("Content-Type", "application/json")
			w.(http.Flusher).Flush() // chunked: no length
			_, _ = w.Write([]byte(`{"AccessKeyId":"` + secret + `"}`))
		case "/odd":
			w.Header().Set("Content-Type", "x/"+secret+" y")
			_, _ = w.Write([]byte(secret))
		case "/malformed":
			w.Header().Set("Content-Type", "x/"+secret+"\x01")
			_, _ = w.Write([]byte(secret))
		case "/master.m3u8":
			_, _ = w.Write([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://user:" + secret + "@" + r.Host + "/seg.ts?sig=" + secret + "\n#EXT-X-ENDLIST\n"))
		default:
			http.Error(w, secret, http.StatusForbidden)
		}
	}))
	defer srv.Close()
	cl := localClient(t)
	cl.hlsRetryDelay = 1
	ctx := context.Background()

	err := Pull(ctx, Config{URL: srv.URL + "/page.mp4", Client: cl, Sink: newSink()})
	require.ErrorIs(t, err, ErrNotMedia)
	require.Contains(t, err.Error(), "content-type text/html, 50 bytes")

	err = Pull(ctx, Config{URL: srv.URL + "/api.ts", Client: cl, Sink: newSink()})
	require.ErrorIs(t, err, ErrNotMedia)
	require.Contains(t, err.Error(), "content-type application/json, length unknown")

	err = Pull(ctx, Config{URL: srv.URL + "/odd", Client: cl, Sink: newSink()})
	require.ErrorIs(t, err, ErrNotMedia)
	require.Contains(t, err.Error(), "content-type unknown")

	// A service that does not speak HTTP: net/http quotes its answer.
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer raw.Close()
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 4096)) // the request
			_, _ = c.Write([]byte("-ERR " + secret + "\r\n"))
			c.Close()
		}
	}()

	host := strings.TrimPrefix(srv.URL, "http://")
	for _, u := range []string{
		srv.URL + "/page.mp4", srv.URL + "/api.ts", srv.URL + "/odd", srv.URL + "/malformed",
		"http://" + raw.Addr().String() + "/redis",
		"http://user:" + secret + "@" + host + "/forbidden.ts?token=" + secret,
		"http://user:" + secret + "@127.0.0.1:1/refused.ts?token=" + secret,
		srv.URL + "/master.m3u8",
	} {
		err := Pull(ctx, Config{URL: u, Client: cl, Sink: newSink()})
		require.Error(t, err, u)
		require.NotContains(t, err.Error(), secret, u)
		require.NotContains(t, err.Error(), "doctype")
		require.NotContains(t, err.Error(), "AccessKeyId")
		t.Log(err)
	}
}
