package e2e_test

import (
	"context"
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestWHIPH264BrowserVanishes publishes H.264 from headless Chromium over
// WHIP (passthrough: the room gets the browser's H.264 as is), then kills
// the browser with SIGKILL, as a crashed tab or a lost network would: no
// DELETE comes, ICE times out, and the ingress ends in ERROR saying the
// WebRTC connection to the client failed; the participant leaves and the
// stream key can be used again.
func TestWHIPH264BrowserVanishes(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	info := createWHIP(ctx, t, c, "whip-vanish", "browser-h264", false)
	sub := e2e.NewSubscriber(t, lk, "whip-vanish")
	page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), url.Values{"codec": {"H264"}})
	bctx, stop := page.browser.WithExit(ctx)
	page.wait(bctx, t, "posted")
	st := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, "video/H264", st.State.Video.GetMimeType())
	vt, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "browser-h264" && s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.Equal(t, 1280, vt.Width, "the browser's own H.264 at its camera size")
	stop()

	require.NoError(t, syscall.Kill(-page.browser.PID(), syscall.SIGKILL))
	killed := time.Now()
	failed := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR)
	t.Logf("ERROR %v after the browser died: %s", time.Since(killed), failed.State.Error)
	require.Contains(t, failed.State.Error, "WebRTC connection to the client failed (ICE)")
	require.Less(t, time.Since(killed), 30*time.Second)
	_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "browser-h264" && !p.Connected })
	require.NoError(t, err, "the participant leaves")

	// The key works again.
	page2 := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), url.Values{"codec": {"H264"}})
	b2, stop2 := page2.browser.WithExit(ctx)
	defer stop2()
	page2.wait(b2, t, "posted")
	again := waitState(b2, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Empty(t, again.State.Error)
	require.NotEqual(t, st.State.ResourceId, again.State.ResourceId)
}

// TestWHIPLastPublisherWins publishes from two Chromium instances to one
// WHIP stream key: the second publish takes over (the ingress reports its
// new resource ID, the room's participant carries it, its video arrives),
// the first session is ended — its browser sees the connection go away
// and a DELETE of its old resource finds nothing (404) — and the ingress
// never goes to ERROR.
func TestWHIPLastPublisherWins(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	info := createWHIP(ctx, t, c, "whip-takeover", "studio", false)
	sub := e2e.NewSubscriber(t, lk, "whip-takeover")
	endpoint := fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey)

	first := startWHIPPage(t, endpoint, nil)
	b1, stop1 := first.browser.WithExit(ctx)
	defer stop1()
	first.wait(b1, t, "posted")
	st1 := waitState(b1, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	_, err := sub.WaitParticipant(b1, func(p e2e.Participant) bool {
		return p.Identity == "studio" && p.Connected && p.Attributes[livekit.AttrIngressResourceID] == st1.State.ResourceId
	})
	require.NoError(t, err)

	second := startWHIPPage(t, endpoint, nil)
	b2, stop2 := second.browser.WithExit(ctx)
	defer stop2()
	second.wait(b2, t, "posted")
	var st2 *livekit.IngressInfo
	require.Eventually(t, func() bool {
		res, err := c.ListIngress(b2, &livekit.ListIngressRequest{IngressId: info.IngressId})
		if err != nil || len(res.Items) != 1 {
			return false
		}
		st2 = res.Items[0]
		return st2.State.GetStatus() == livekit.IngressState_ENDPOINT_ERROR ||
			st2.State.GetStatus() == livekit.IngressState_ENDPOINT_PUBLISHING && st2.State.ResourceId != st1.State.ResourceId
	}, 30*time.Second, 100*time.Millisecond, "the second publish did not take over")
	require.Equal(t, livekit.IngressState_ENDPOINT_PUBLISHING, st2.State.GetStatus(), st2.State.GetError())

	p, err := sub.WaitParticipant(b2, func(p e2e.Participant) bool {
		return p.Identity == "studio" && p.Connected && len(p.Tracks) == 2 && p.Attributes[livekit.AttrIngressResourceID] == st2.State.ResourceId
	})
	require.NoError(t, err, "the room's participant is the second publish")
	vti := videoTrack(p)
	require.NotNil(t, vti)
	_, err = sub.WaitTrack(b2, func(s e2e.TrackStats) bool { return s.TrackSID == vti.Sid && s.Width > 0 && s.Window >= time.Second })
	require.NoError(t, err, "the second browser's video arrives")

	// The first browser's connection goes away.
	for {
		ev := first.wait(b1, t, "state")
		if ev == "failed" || ev == "disconnected" || ev == "closed" {
			break
		}
	}
	first.commands <- "delete"
	require.Equal(t, "404", first.wait(b1, t, "deleted"), "the first resource is gone")
	cur := waitState(b2, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, st2.State.ResourceId, cur.State.ResourceId, "the old resource's DELETE does not end the new session")
}
