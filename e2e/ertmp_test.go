package e2e_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
	"github.com/tributary-ingress/tributary/internal/testutil/flvtest"
	"github.com/tributary-ingress/tributary/media"
)

// encodeMP4 encodes seconds of a generated 640x360 30 fps source and a
// 48 kHz tone with the real ffmpeg CLI into an MP4 file.
func encodeMP4(t *testing.T, name string, seconds int, codecs ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", itoa(seconds), "-pix_fmt", "yuv420p", "-ac", "2"}
	args = append(args, codecs...)
	args = append(args, out)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, e2e.FFmpegBin(t), args...).CombinedOutput()
	require.NoError(t, err, string(b))
	return out
}

// TestEnhancedRTMPTranscode pushes Enhanced RTMP through the real server:
// HEVC (libx265, with B-frames, FourCC hvc1) and Opus (audio FourCC Opus)
// from a real encode, wrapped in E-RTMP tags byte for byte as the spec lays
// them out (FFmpeg 5.1 cannot send E-RTMP) and published in real time by
// the Go RTMP publisher, to an ingress with default transcoding. The
// ingress reports the input as video/H265 640x360 and audio/opus, and a
// viewer gets the preset's H.264 simulcast layers that fit the source
// (640x360 and 320x180) at ~30 fps, and Opus audio.
func TestEnhancedRTMPTranscode(t *testing.T) {
	// The parameter sets travel only in the hvcC of the sequence start
	// (as from OBS): the session must put them in front of keyframes.
	testEnhancedRTMP(t, "hevc-opus.mp4", media.CodecH265, "audio/opus",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=60:bframes=3:repeat-headers=0:log-level=error", "-tag:v", "hvc1",
		"-c:a", "libopus", "-b:a", "64k")
}

// TestEnhancedRTMPTranscodeAV1 is the same with AV1 (libaom, realtime
// usage, FourCC av01) and AAC sent with the E-RTMP audio FourCC mp4a.
func TestEnhancedRTMPTranscodeAV1(t *testing.T) {
	testEnhancedRTMP(t, "av1-aac.mp4", media.CodecAV1, "audio/mp4a-latm",
		"-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-row-mt", "1", "-threads", "2", "-g", "60", "-b:v", "800k",
		"-c:a", "aac", "-ar", "48000")
}

func testEnhancedRTMP(t *testing.T, name string, videoCodec media.CodecID, audioMime string, codecs ...string) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const seconds = 20
	src := encodeMP4(t, name, seconds, codecs...)
	tracks, ftags, err := flvtest.FromMP4(ctx, src)
	require.NoError(t, err)
	require.Len(t, tracks, 2)
	var tags []e2e.FLVTag
	bframes := false
	for _, tg := range ftags {
		tags = append(tags, e2e.FLVTag{Type: tg.Type, Timestamp: tg.Timestamp, Body: tg.Body})
		// CodedFrames hvc1: header byte, FourCC, SI24 composition time.
		if tg.Type == flvtest.TagVideo && tg.Body[0]&0x0f == flvtest.VideoPacketCodedFrames && tg.Body[5]|tg.Body[6]|tg.Body[7] != 0 {
			bframes = true
		}
	}
	if videoCodec == media.CodecH265 {
		require.True(t, bframes, "the source has B-frames (non-zero composition times)")
	}

	info := createRTMP(ctx, t, c, "ertmp", "ertmp", true)
	sub := e2e.NewSubscriber(t, lk, "ertmp")

	pctx, pcancel := tr.WithExit(ctx)
	defer pcancel()
	published := make(chan error, 1)
	go func() {
		published <- e2e.PublishFLV(pctx, fmt.Sprintf("127.0.0.1:%d", tr.RTMPPort), "live", info.StreamKey, tags, nil)
	}()
	// The publisher returns early only on failure.
	wctx, wcancel := context.WithCancelCause(pctx)
	defer wcancel(nil)
	go func() {
		select {
		case err := <-published:
			if err == nil {
				err = fmt.Errorf("the publisher finished")
			}
			wcancel(err)
			published <- err
		case <-wctx.Done():
		}
	}()

	st := waitState(wctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, videoCodec.MimeType(), st.State.Video.GetMimeType())
	require.Equal(t, uint32(640), st.State.Video.GetWidth())
	require.Equal(t, uint32(360), st.State.Video.GetHeight())
	require.Equal(t, audioMime, st.State.Audio.GetMimeType())
	require.Equal(t, uint32(48000), st.State.Audio.GetSampleRate())
	require.Equal(t, uint32(2), st.State.Audio.GetChannels())

	p, err := sub.WaitParticipant(wctx, func(p e2e.Participant) bool {
		return p.Identity == "ertmp" && p.Connected && len(p.Tracks) == 2
	})
	require.NoError(t, err)
	var videoSID string
	for _, ti := range p.Tracks {
		if ti.Type == livekit.TrackType_VIDEO {
			videoSID = ti.Sid
			t.Logf("video track %dx%d, simulcast %v, layers %v", ti.Width, ti.Height, ti.Simulcast, ti.Layers)
			require.Equal(t, uint32(640), ti.Width)
			require.Equal(t, uint32(360), ti.Height)
		}
	}
	require.NotEmpty(t, videoSID)
	_, err = sub.WaitTrack(wctx, func(s e2e.TrackStats) bool { return s.TrackSID == videoSID && s.Width > 0 })
	require.NoError(t, err)
	// The default preset's layers that fit the 640x360 source: its own
	// size on top, and the quarter size.
	for _, q := range []struct {
		quality livekit.VideoQuality
		w, h    int
	}{{livekit.VideoQuality_HIGH, 640, 360}, {livekit.VideoQuality_LOW, 320, 180}} {
		require.NoError(t, sub.SetVideoQuality(videoSID, q.quality))
		vt, err := sub.WaitTrack(wctx, func(s e2e.TrackStats) bool {
			return s.TrackSID == videoSID && s.Width == q.w && s.Window >= 2*time.Second
		})
		require.NoError(t, err, "quality %s", q.quality)
		require.Equal(t, "video/H264", vt.MimeType)
		require.Equal(t, q.h, vt.Height)
		require.InDelta(t, 30, vt.FPS, 4, "quality %s frame rate", q.quality)
	}
	at, err := sub.WaitTrack(wctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "ertmp" && s.MimeType == "audio/opus" && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.InDelta(t, 50, at.FPS, 5, "Opus packets of 20 ms")

	// The whole source goes through, then the session ends cleanly.
	wcancel(nil)
	select {
	case err := <-published:
		require.NoError(t, err, "the publisher sent every tag")
	case <-ctx.Done():
		t.Fatal("the publisher did not finish")
	}
	end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.State.Error)
}
