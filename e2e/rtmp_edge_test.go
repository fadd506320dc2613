package e2e_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// baseline is a WebRTC-ready 720p30 encode: constrained baseline, no
// B-frames, keyframe every 45 frames (which x264 records in its SEI).
var baseline = []string{"-vf", "scale=1280:720", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline",
	"-bf", "0", "-g", "45", "-pix_fmt", "yuv420p"}

func createRTMP(ctx context.Context, t *testing.T, c *lksdk.IngressClient, room, identity string, transcode bool) *livekit.IngressInfo {
	t.Helper()
	info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, RoomName: room, ParticipantIdentity: identity,
		EnableTranscoding: &transcode,
	})
	require.NoError(t, err)
	return info
}

// TestRTMPPassthrough: with enable_transcoding false, a baseline H.264
// push is forwarded as one 1280x720 layer carrying the source's own bytes
// (every slice received is, byte for byte, a slice of the pushed file), and
// AAC is transcoded to Opus.
func TestRTMPPassthrough(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	info := createRTMP(ctx, t, c, "pass", "forwarded", false)
	sub := e2e.NewSubscriber(t, lk, "pass")

	src := encodeFile(t, "src.flv", 15, baseline...)
	source := sliceHashes(t, src)
	ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-i", src, "-c", "copy", "-f", "flv", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey))
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, uint32(1280), st.State.Video.GetWidth())

	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second && s.Pictures > 90
	})
	require.NoError(t, err)
	require.False(t, vt.Simulcast, "one layer: the source")
	require.Equal(t, 1280, vt.Width)
	require.Equal(t, 720, vt.Height)
	require.InDelta(t, 30, vt.FPS, 4)
	got := sub.SliceHashes(vt.TrackSID)
	require.Greater(t, len(got), 90)
	for h := range got {
		require.Contains(t, source, h, "a received slice is not one of the source's: the video was re-encoded")
	}
	_, err = sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.MimeType == "audio/opus" && s.Frames > 20 })
	require.NoError(t, err)
}

// TestRTMPPassthroughRefusesBFrames: forwarding is impossible with
// B-frames; the ingress state says exactly why.
func TestRTMPPassthroughRefusesBFrames(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	info := createRTMP(ctx, t, c, "bframes", "bf", false)
	ff := ffmpegRTMP(t, fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey), 10,
		"-vf", "scale=640:360", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-bf", "2", "-pix_fmt", "yuv420p")
	st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR)
	require.Contains(t, st.State.Error, "H.264 with B-frames cannot be forwarded without transcoding")
	select {
	case <-ff.Done():
		require.Error(t, ff.Err(), "the encoder's connection is closed")
	case <-ctx.Done():
		t.Fatal("ffmpeg still connected")
	}
}

// rtmpHandshake performs the plain RTMP handshake (C0/C1, S0/S1/S2, C2).
func rtmpHandshake(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	c1 := make([]byte, 1536)
	_, _ = rand.Read(c1[8:])
	_, err = conn.Write(append([]byte{3}, c1...))
	require.NoError(t, err)
	s := make([]byte, 1+1536+1536)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadFull(conn, s)
	require.NoError(t, err)
	_, err = conn.Write(s[1 : 1+1536]) // C2 echoes S1
	require.NoError(t, err)
	return conn
}

// waitClosed waits for the server to close conn.
func waitClosed(t *testing.T, conn net.Conn, within time.Duration) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(within)))
	buf := make([]byte, 4096)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if ok := errorsAs(err, &ne); ok && ne.Timeout() {
			t.Fatalf("connection still open after %v", within)
		}
		return
	}
}

// TestRTMPRefusals: unknown key, disabled ingress, garbage after the
// handshake, a silent client and a second publisher on a key each give the
// documented outcome, while a healthy session on another key goes on.
func TestRTMPRefusals(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", tr.RTMPPort)

	healthy := createRTMP(ctx, t, c, "healthy", "healthy", false)
	sub := e2e.NewSubscriber(t, lk, "healthy")
	hf := ffmpegRTMP(t, "rtmp://"+addr+"/live/"+healthy.StreamKey, 60, baseline...)
	hctx, hstop := hf.WithExit(ctx)
	defer hstop()
	waitState(hctx, t, c, healthy.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)

	// Unknown key: refused, logged with the reason.
	out, err := runFFmpegPush(ctx, t, "rtmp://"+addr+"/live/nosuchkey123")
	require.Error(t, err, out)
	requireLog(ctx, t, tr, "RTMP publish refused", "stream key not found")

	// Disabled ingress: refused.
	off := createRTMP(ctx, t, c, "off", "off", true)
	f := false
	_, err = c.UpdateIngress(ctx, &livekit.UpdateIngressRequest{IngressId: off.IngressId, Enabled: &f})
	require.NoError(t, err)
	out, err = runFFmpegPush(ctx, t, "rtmp://"+addr+"/live/"+off.StreamKey)
	require.Error(t, err, out)
	requireLog(ctx, t, tr, "RTMP publish refused", "ingress is disabled")
	// and said in the ingress state, as the official worker does.
	st := waitState(ctx, t, c, off.IngressId, livekit.IngressState_ENDPOINT_ERROR)
	require.Equal(t, "ingress is disabled", st.State.Error)

	// Garbage after the handshake: dropped.
	g := rtmpHandshake(t, addr)
	junk := make([]byte, 8192)
	_, _ = rand.Read(junk)
	_, _ = g.Write(junk)
	waitClosed(t, g, 15*time.Second)
	g.Close()

	// Silent after the handshake: dropped after the read timeout (10 s).
	s := rtmpHandshake(t, addr)
	waitClosed(t, s, 20*time.Second)
	s.Close()

	// A second publisher on the healthy key takes over; the first is cut.
	before := waitState(hctx, t, c, healthy.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	hstop()
	second := ffmpegRTMP(t, "rtmp://"+addr+"/live/"+healthy.StreamKey, 60, baseline...)
	select {
	case <-hf.Done():
	case <-ctx.Done():
		t.Fatal("the first publisher was not disconnected")
	}
	sctx, sstop := second.WithExit(ctx)
	defer sstop()
	for {
		st := waitState(sctx, t, c, healthy.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		if st.State.ResourceId != before.State.ResourceId {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The room keeps getting video from the second publisher.
	vt, err := sub.WaitTrack(sctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && !s.Ended && s.Width == 1280 && s.Window >= 2*time.Second && s.FPS > 20
	})
	require.NoError(t, err)
	require.Equal(t, 720, vt.Height)
}

func runFFmpegPush(ctx context.Context, t *testing.T, url string) (string, error) {
	t.Helper()
	p := ffmpegRTMP(t, url, 5, baseline...)
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("ffmpeg hung")
	}
	return p.Tail(2048), p.Err()
}

// requireLog waits until Tributary's log has a line with all the parts.
func requireLog(ctx context.Context, t *testing.T, tr *tributary, parts ...string) {
	t.Helper()
	for {
		for _, line := range strings.Split(tr.Tail(1<<20), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no log line with %q", parts)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
