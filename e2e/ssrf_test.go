package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestURLGuard runs URL ingresses against a real livekit-server and
// Tributary.
//
// With the default config (deny_private_urls on), URL ingresses aimed at
// the server's own network — http on 127.0.0.1, localhost and the
// IPv4-mapped IPv6 form, srt:// and rtsp:// on 127.0.0.1 — end in ERROR
// with the reason, and the test's servers there see no request, no
// packet, no connection; the signed query string of the URL is not in the
// state.
//
// An origin that sends the start of a stream and then nothing ends the
// ingress in ERROR naming the stall once the idle deadline (15 s) passes,
// instead of holding the session until it is deleted (this Tributary opts
// out of the guard to reach the test's origin on 127.0.0.1).
func TestURLGuard(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("private destinations refused by default", func(t *testing.T) {
		var hits atomic.Int32
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits.Add(1)
			http.Error(w, "internal", http.StatusOK)
		}))
		defer origin.Close()
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer udp.Close()
		tcp, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var accepted atomic.Int32
		acceptDone := make(chan struct{})
		go func() {
			defer close(acceptDone)
			for {
				c, err := tcp.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close()
			}
		}()
		defer func() {
			tcp.Close()
			<-acceptDone
		}()

		tr := startTributary(t, tributaryOpts{WsURL: lk.URL, URLGuard: true})
		c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
		port := origin.Listener.Addr().(*net.TCPAddr).Port
		urls := []string{
			fmt.Sprintf("http://127.0.0.1:%d/x.ts?token=SIGNED-SECRET", port),
			fmt.Sprintf("http://localhost:%d/x.ts", port),
			fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/x.ts", port),
			fmt.Sprintf("srt://%s?streamid=live", udp.LocalAddr()),
			fmt.Sprintf("rtsp://user:pw@%s/cam", tcp.Addr()),
		}
		for i, u := range urls {
			info := createURL(ctx, t, c, "ssrf", fmt.Sprintf("ssrf-%d", i), u, nil)
			st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR)
			t.Logf("%s: %s", u, st.State.Error)
			require.Contains(t, st.State.Error, "non-public address, which this server refuses (deny_private_urls)", u)
			require.NotContains(t, st.State.Error, "SIGNED-SECRET")
			require.NotContains(t, st.State.Error, "pw@")
		}
		require.Zero(t, hits.Load(), "the HTTP origin saw no request")
		require.Zero(t, accepted.Load(), "the RTSP port saw no connection")
		require.NoError(t, udp.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
		_, _, err = udp.ReadFrom(make([]byte, 2048))
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "the SRT port got no packet: %v", err)
	})

	t.Run("stalled origin", func(t *testing.T) {
		ts, err := os.ReadFile("../demux/ts/testdata/h264_bf2_aac.ts")
		require.NoError(t, err)
		release := make(chan struct{})
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp2t")
			_, _ = w.Write(ts[:len(ts)/2/188*188])
			w.(http.Flusher).Flush()
			select { // then nothing, connection open
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer origin.Close()
		defer close(release)

		tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
		c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
		start := time.Now()
		info := createURL(ctx, t, c, "stall", "stall", origin.URL+"/live.ts", nil)
		st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR)
		took := time.Since(start)
		t.Logf("%s after %v", st.State.Error, took.Round(100*time.Millisecond))
		require.Contains(t, st.State.Error, "the origin sent nothing for 15 s")
		require.Contains(t, st.State.Error, origin.URL+"/live.ts")
		require.Greater(t, took, 15*time.Second)
		require.Less(t, took, 60*time.Second)
	})
}
