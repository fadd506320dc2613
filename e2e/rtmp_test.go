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

// ffmpegRTMP starts the real ffmpeg CLI pushing a generated source to url.
func ffmpegRTMP(t *testing.T, url string, seconds int, video ...string) *e2e.Process {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", fmt.Sprint(seconds)}
	args = append(args, video...)
	args = append(args, "-c:a", "aac", "-ar", "44100", "-ac", "2", "-f", "flv", url)
	return e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), args...)
}

func waitState(ctx context.Context, t *testing.T, c *lksdk.IngressClient, id string, want livekit.IngressState_Status) *livekit.IngressInfo {
	t.Helper()
	var last *livekit.IngressInfo
	for {
		res, err := c.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: id})
		if err == nil && len(res.Items) == 1 {
			last = res.Items[0]
			if last.State.GetStatus() == want {
				return last
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ingress %s never reached %s; last state: %v", id, want, last.GetState())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestRTMPTranscode pushes 1080p30 H.264 High with B-frames and 44.1 kHz
// AAC with the real ffmpeg CLI to an RTMP ingress on the default preset,
// and checks in the room what a viewer gets: an INGRESS participant, one
// simulcast video track whose three layers arrive at 1280x720, 640x360 and
// 320x180 (parsed from the received bitstream) at ~30 fps, and Opus audio;
// the ingress goes BUFFERING → PUBLISHING with the input described, then
// back to INACTIVE when ffmpeg stops, and the same key works again.
func TestRTMPTranscode(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, Name: "obs", RoomName: "rtmp-room",
		ParticipantIdentity: "obs-stream", ParticipantName: "OBS Stream",
	})
	require.NoError(t, err)
	sub := e2e.NewSubscriber(t, lk, "rtmp-room")
	url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey)

	for round := 1; round <= 2; round++ {
		seconds := 25
		if round == 2 {
			seconds = 8
		}
		ff := ffmpegRTMP(t, url, seconds, "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-bf", "2", "-g", "60", "-pix_fmt", "yuv420p")
		fctx, stop := ff.WithExit(ctx)

		st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		require.Regexp(t, `^RT_\w{12}$`, st.State.ResourceId)
		require.NotEmpty(t, st.State.RoomId)
		require.Equal(t, "video/H264", st.State.Video.GetMimeType())
		require.Equal(t, uint32(1920), st.State.Video.GetWidth())
		require.Equal(t, uint32(1080), st.State.Video.GetHeight())
		require.Equal(t, "audio/mp4a-latm", st.State.Audio.GetMimeType())
		require.Equal(t, uint32(44100), st.State.Audio.GetSampleRate())
		require.Equal(t, uint32(2), st.State.Audio.GetChannels())

		p, err := sub.WaitParticipant(fctx, func(p e2e.Participant) bool {
			return p.Identity == "obs-stream" && p.Connected && len(p.Tracks) == 2
		})
		require.NoError(t, err)
		require.Equal(t, livekit.ParticipantInfo_INGRESS, p.Kind)
		require.Equal(t, "OBS Stream", p.Name)
		require.Equal(t, info.IngressId, p.Attributes[livekit.AttrIngressID])
		require.Equal(t, st.State.ResourceId, p.Attributes[livekit.AttrIngressResourceID])

		if round == 1 {
			var videoSID string
			for _, ti := range p.Tracks {
				if ti.Type == livekit.TrackType_VIDEO {
					videoSID = ti.Sid
					require.True(t, ti.Simulcast)
					require.Len(t, ti.Layers, 3)
				}
			}
			_, err = sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.TrackSID == videoSID && s.Width > 0 })
			require.NoError(t, err)
			for _, q := range []struct {
				quality livekit.VideoQuality
				w, h    int
			}{{livekit.VideoQuality_HIGH, 1280, 720}, {livekit.VideoQuality_LOW, 320, 180}, {livekit.VideoQuality_MEDIUM, 640, 360}} {
				require.NoError(t, sub.SetVideoQuality(videoSID, q.quality))
				st, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
					return s.TrackSID == videoSID && s.Width == q.w && s.Window >= 2*time.Second
				})
				require.NoError(t, err, "quality %s", q.quality)
				require.Equal(t, q.h, st.Height)
				require.Equal(t, "video/H264", st.MimeType)
				require.InDelta(t, 30, st.FPS, 4, "quality %s frame rate", q.quality)
			}
			at, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
				return s.ParticipantIdentity == "obs-stream" && s.MimeType == "audio/opus" && s.Window >= 2*time.Second
			})
			require.NoError(t, err)
			require.InDelta(t, 50, at.FPS, 5, "Opus packets of 20 ms")
		}
		stop()

		select {
		case <-ff.Done():
			require.NoError(t, ff.Err(), "ffmpeg finished its push")
		case <-ctx.Done():
			t.Fatal("ffmpeg did not finish")
		}
		end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
		require.Empty(t, end.State.Error)
		require.NotZero(t, end.State.EndedAt)
		_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "obs-stream" && !p.Connected })
		require.NoError(t, err, "the participant leaves")
	}
}
