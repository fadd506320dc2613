package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
	"github.com/tributary-ingress/tributary/internal/testutil/rtsptest"
)

// TestRTSPPull pulls an RTSP stream as a URL ingress (Tributary's
// extension): the real ffmpeg publishes H.264 + AAC with ANNOUNCE/RECORD
// to gortsplib's server running in the test, which relays it to the
// ingress (DESCRIBE/SETUP/PLAY; the server takes TCP only, so the client
// also falls back from UDP). The room gets the transcoded layers at 30 fps
// and Opus, and when ffmpeg stops the stream ends and the ingress is
// COMPLETE.
func TestRTSPPull(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, stop := tr.WithExit(ctx)
	defer stop()

	srv := rtsptest.Start(t)
	const seconds = 14
	ff := e2e.StartProcess(t, "ffmpeg-rtsp", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-bf", "0",
		"-c:a", "aac", "-f", "rtsp", "-rtsp_transport", "tcp", srv.URL("stream"))
	fctx, fstop := ff.WithExit(ctx)
	defer fstop()
	require.NoError(t, srv.WaitPublished(fctx, "stream"), "ffmpeg publishes")

	sub := e2e.NewSubscriber(t, lk, "rtsp")
	start := time.Now()
	info := createURL(ctx, t, c, "rtsp", "rtsp-pull", srv.URL("stream"), nil)
	st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, "video/H264", st.State.Video.GetMimeType())
	require.Equal(t, uint32(640), st.State.Video.GetWidth())
	require.Equal(t, uint32(360), st.State.Video.GetHeight())
	require.Equal(t, "audio/mp4a-latm", st.State.Audio.GetMimeType())
	require.Equal(t, uint32(48000), st.State.Audio.GetSampleRate())

	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.True(t, vt.Simulcast, "transcoded into layers")
	// Every preset layer is published; HIGH stays empty while the source
	// is 640x360, and its viewers get MEDIUM, at the source's size.
	require.Len(t, vt.Layers, 3, "the preset's three layers: %v", vt.Layers)
	require.Equal(t, 640, vt.Width)
	require.Equal(t, 360, vt.Height)
	require.InDelta(t, 30, vt.FPS, 4, "live at the source's rate")
	at, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.MimeType == "audio/opus" && s.Window >= 2*time.Second })
	require.NoError(t, err)
	require.InDelta(t, 50, at.FPS, 6, "20 ms Opus packets")

	// ffmpeg ends; the server closes the stream and the pull ends cleanly.
	select {
	case <-ff.Done():
	case <-ctx.Done():
		t.Fatalf("ffmpeg did not finish: %v", context.Cause(ctx))
	}
	end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	require.Empty(t, end.State.Error)
	_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "rtsp-pull" && !p.Connected })
	require.NoError(t, err, "the participant leaves when the stream ends")
	require.Less(t, time.Since(start), (seconds+15)*time.Second)
}
