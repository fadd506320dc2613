package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestRTMPReconnectsToLiveKit: the LiveKit server dies mid-stream and
// comes back on the same address; the session is in the room again by
// itself and the media flows again to a new viewer, while the encoder stays
// connected and the ingress never leaves PUBLISHING for ERROR.
func TestRTMPReconnectsToLiveKit(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	info := createRTMP(ctx, t, c, "phoenix", "phoenix", false)

	ff := ffmpegRTMP(t, fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey), 90, baseline...)
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	first := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)

	// The SDK resumes or rejoins by itself; when it gives up, the session
	// joins again (and logs "joined the room again"). Either way a new
	// viewer must get the stream.
	lk.Kill(t)
	lk.Restart(t)

	sub := e2e.NewSubscriber(t, lk, "phoenix")
	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && s.Width == 1280 && s.Window >= 2*time.Second && s.FPS > 20
	})
	require.NoError(t, err)
	require.Equal(t, 720, vt.Height)
	st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, first.State.ResourceId, st.State.ResourceId, "the same session went on")
	require.Empty(t, st.State.Error)
}
