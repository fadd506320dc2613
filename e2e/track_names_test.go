package e2e_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestTrackNamesAndSources: the track names and sources an ingress's
// video and audio options set (IngressVideoOptions.name/source,
// IngressAudioOptions.name/source) are the published tracks' as a
// subscriber sees them, as the official worker publishes them; an ingress
// that sets none gets video/CAMERA and audio/MICROPHONE. Checked for an
// RTMP push from ffmpeg (the media session) and a WHIP publish from
// Chromium (WebRTC passthrough, its own publishing path).
func TestTrackNamesAndSources(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	type track struct {
		name   string
		source livekit.TrackSource
	}
	// tracksOf waits for identity's two tracks and returns them by kind.
	tracksOf := func(t *testing.T, sub *e2e.Subscriber, identity string) (video, audio track) {
		t.Helper()
		p, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool {
			return p.Identity == identity && p.Connected && len(p.Tracks) == 2
		})
		require.NoError(t, err)
		for _, ti := range p.Tracks {
			got := track{ti.Name, ti.Source}
			if ti.Type == livekit.TrackType_VIDEO {
				video = got
			} else {
				audio = got
			}
		}
		return video, audio
	}
	named := func(req *livekit.CreateIngressRequest) {
		req.Video = &livekit.IngressVideoOptions{Name: "stage left", Source: livekit.TrackSource_SCREEN_SHARE}
		req.Audio = &livekit.IngressAudioOptions{Name: "program mix", Source: livekit.TrackSource_SCREEN_SHARE_AUDIO}
	}
	off := false

	t.Run("RTMP", func(t *testing.T) {
		for i, c2 := range []struct {
			set          func(*livekit.CreateIngressRequest)
			video, audio track
		}{
			{named, track{"stage left", livekit.TrackSource_SCREEN_SHARE}, track{"program mix", livekit.TrackSource_SCREEN_SHARE_AUDIO}},
			{func(*livekit.CreateIngressRequest) {}, track{"video", livekit.TrackSource_CAMERA}, track{"audio", livekit.TrackSource_MICROPHONE}},
		} {
			roomName := fmt.Sprintf("names-rtmp-%d", i)
			req := &livekit.CreateIngressRequest{
				InputType: livekit.IngressInput_RTMP_INPUT, RoomName: roomName, ParticipantIdentity: "enc",
				EnableTranscoding: &off,
			}
			c2.set(req)
			info, err := c.CreateIngress(ctx, req)
			require.NoError(t, err)
			sub := e2e.NewSubscriber(t, lk, roomName)
			url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey)
			ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), source{size: "320x240", rate: "30", audio: true, secs: 30}.ffmpegArgs(url)...)
			video, audio := tracksOf(t, sub, "enc")
			require.Equal(t, c2.video, video)
			require.Equal(t, c2.audio, audio)
			// The ingress state lists the same tracks.
			st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			var names []string
			for _, ti := range st.State.Tracks {
				names = append(names, ti.Name)
			}
			require.ElementsMatch(t, []string{c2.video.name, c2.audio.name}, names)
			require.NoError(t, syscall.Kill(-ff.PID(), syscall.SIGKILL))
			<-ff.Done()
			require.NoError(t, sub.Close())
		}
	})

	t.Run("WHIP passthrough", func(t *testing.T) {
		req := &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_WHIP_INPUT, RoomName: "names-whip", ParticipantIdentity: "browser",
		}
		named(req)
		info, err := c.CreateIngress(ctx, req)
		require.NoError(t, err)
		sub := e2e.NewSubscriber(t, lk, "names-whip")
		page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), nil)
		bctx, stop := page.browser.WithExit(ctx)
		defer stop()
		page.wait(bctx, t, "posted")
		video, audio := tracksOf(t, sub, "browser")
		require.Equal(t, track{"stage left", livekit.TrackSource_SCREEN_SHARE}, video)
		require.Equal(t, track{"program mix", livekit.TrackSource_SCREEN_SHARE_AUDIO}, audio)
	})
}
