package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// answerCandidates returns the candidates of an SDP answer, which has
// some.
func answerCandidates(t *testing.T, answer string) []testutil.Candidate {
	t.Helper()
	out := testutil.Candidates(t, answer)
	require.NotEmpty(t, out, "the answer carries candidates:\n%s", answer)
	return out
}

// smallCamera keeps the browsers' encoding cheap: these tests are about
// the network, not the picture.
var smallCamera = url.Values{"width": {"320"}, "height": {"240"}}

// TestWHIPSharedUDPPort publishes from three headless Chromium pages at
// once to a Tributary whose rtc_config.udp_port is one port (the harness
// picks a free one; 7885 by default): every answer's host candidates
// name that port, and the media of each session reaches the room, so a
// firewall rule for that one port is enough.
func TestWHIPSharedUDPPort(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	require.NotZero(t, tr.UDPPort)
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sub := e2e.NewSubscriber(t, lk, "whip-port")

	const sessions = 3
	for i := range sessions {
		info := createWHIP(ctx, t, c, "whip-port", fmt.Sprintf("cam%d", i), false)
		page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), smallCamera)
		bctx, stop := page.browser.WithExit(ctx)
		var hosts int
		for _, cand := range answerCandidates(t, page.wait(bctx, t, "answer")) {
			if cand.Type != "host" {
				continue // server-reflexive ones, when a STUN server answers, come from STUN's own sockets
			}
			hosts++
			require.Equal(t, "udp", cand.Transport, "no tcp_port configured")
			require.Equal(t, tr.UDPPort, cand.Port, "session %d: every host candidate is on udp_port", i)
		}
		require.NotZero(t, hosts)
		page.wait(bctx, t, "posted")
		stop()
	}
	for i := range sessions {
		identity := fmt.Sprintf("cam%d", i)
		vs, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
			return s.ParticipantIdentity == identity && s.MimeType == "video/VP8" && s.Width > 0 && s.Window >= time.Second
		})
		require.NoError(t, err, "the video of %s reaches the room", identity)
		require.Equal(t, 320, vs.Width)
		_, err = sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
			return s.ParticipantIdentity == identity && s.MimeType == "audio/opus" && s.Window >= time.Second
		})
		require.NoError(t, err, "the audio of %s reaches the room", identity)
	}
}

// TestWHIPPortRange: with port_range_start/port_range_end (and udp_port
// too, which the range overrides, as in the official worker) each
// session's host candidates take a port of the range, and the media
// reaches the room.
func TestWHIPPortRange(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	start := 40000 + 100*rand.IntN(90)
	ignored := freeUDPPort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf(
		"rtc_config:\n  udp_port: %d\n  port_range_start: %d\n  port_range_end: %d\n", ignored, start, start+99)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sub := e2e.NewSubscriber(t, lk, "whip-range")

	info := createWHIP(ctx, t, c, "whip-range", "ranged", false)
	page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), smallCamera)
	bctx, stop := page.browser.WithExit(ctx)
	defer stop()
	for _, cand := range answerCandidates(t, page.wait(bctx, t, "answer")) {
		if cand.Type == "host" {
			require.GreaterOrEqual(t, cand.Port, start)
			require.LessOrEqual(t, cand.Port, start+99)
		}
	}
	page.wait(bctx, t, "posted")
	_, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "ranged" && s.MimeType == "video/VP8" && s.Width > 0 && s.Window >= time.Second
	})
	require.NoError(t, err)
	require.Contains(t, tr.Tail(1<<20), "rtc_config.udp_port", "the overridden udp_port is named at start")
}
