package e2e_test

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestSRTPassphrase: with srt_passphrase set, an encoder pushing with the
// passphrase publishes (its stream is decrypted), and callers without
// encryption or with a wrong passphrase are refused before their stream
// key is looked at: the live session on that key goes on untouched (same
// resource, pictures still arriving), and the refusals are logged.
func TestSRTPassphrase(t *testing.T) {
	const secret = "tributary-srt-secret"
	lk := e2e.StartLiveKit(t)
	srtPort := freeUDPPort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf("srt_port: %d\nsrt_passphrase: %s\n", srtPort, secret)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	info := createRTMP(ctx, t, c, "srt-secure", "src", true)
	sub := e2e.NewSubscriber(t, lk, "srt-secure")
	url := fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s", srtPort, info.StreamKey)
	ff := e2e.StartProcess(t, "ffmpeg-srt", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac",
		"-f", "mpegts", url+"&passphrase="+secret)
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	live := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	_, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.MimeType == "video/H264" && s.Width == 640 })
	require.NoError(t, err, "the encrypted push is decrypted and published")

	for _, c := range []struct{ name, query string }{
		{"no encryption", ""},
		{"wrong passphrase", "&passphrase=not-the-srt-secret"},
	} {
		out, err := exec.CommandContext(fctx, e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "3", "-c:v", "libx264", "-f", "mpegts",
			url+c.query).CombinedOutput()
		require.Error(t, err, "%s: refused: %s", c.name, out)
	}
	log := logOf(t, tr)
	require.Contains(t, log, "SRT publish refused: encryption is required")
	require.Contains(t, log, "SRT publish refused: wrong passphrase")

	st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, live.State.ResourceId, st.State.ResourceId, "the live session was not replaced")
	before, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.MimeType == "video/H264" })
	require.NoError(t, err)
	time.Sleep(2 * time.Second)
	after, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.MimeType == "video/H264" && s.Pictures > before.Pictures+30 })
	require.NoError(t, err, "pictures keep arriving")
	require.InDelta(t, 30, after.FPS, 5)
}
