package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestURLLiveHLS pulls a live HLS stream that the real ffmpeg CLI is
// writing (1 s segments, a sliding playlist of 6 that deletes old
// segments, no ENDLIST until ffmpeg stops): the room gets the video at
// its frame rate across playlist reloads, the ingress stays PUBLISHING
// while ffmpeg writes, and ends COMPLETE soon after ffmpeg appends the
// ENDLIST, having kept up with the live edge rather than falling off the
// sliding window.
func TestURLLiveHLS(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := t.TempDir()
	playlist := filepath.Join(dir, "live.m3u8")
	ff := e2e.StartProcess(t, "ffmpeg-hls", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "24", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
		"-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments", playlist)
	// Start once the playlist slides: 6 segments written.
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(playlist)
		return err == nil && strings.Count(string(b), "#EXTINF") >= 6
	}, 30*time.Second, 100*time.Millisecond, "ffmpeg wrote no live playlist")
	b, err := os.ReadFile(playlist)
	require.NoError(t, err)
	require.NotContains(t, string(b), "#EXT-X-ENDLIST", "the playlist is live while ffmpeg writes")

	base := serveFiles(t, dir)
	sub := e2e.NewSubscriber(t, lk, "hls-live")
	info := createURL(ctx, t, c, "hls-live", "hls-live", base+"/live.m3u8", nil)
	st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, uint32(640), st.State.Video.GetWidth())

	// Two measurement windows (3 s each, the harness's rate window), 4 s
	// apart, span several playlist reloads.
	var vt e2e.TrackStats
	for i := range 2 {
		after := time.Now().Add(time.Duration(i) * 4 * time.Second)
		vt, err = sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
			return s.MimeType == "video/H264" && s.Width == 640 && s.Window >= 2500*time.Millisecond && s.LastPacket.After(after)
		})
		require.NoError(t, err)
		require.InDelta(t, 30, vt.FPS, 4, "real-time playback across reloads (window %d)", i+1)
	}
	select {
	case <-ff.Done():
		t.Fatal("ffmpeg ended before the checks: the test's timing is off")
	default:
	}
	cur := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Empty(t, cur.State.Error)

	select {
	case <-ff.Done():
		require.NoError(t, ff.Err())
	case <-ctx.Done():
		t.Fatal("ffmpeg did not finish")
	}
	ffEnd := time.Now()
	end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	require.Empty(t, end.State.Error)
	lag := time.Since(ffEnd)
	t.Logf("COMPLETE %v after ffmpeg's last segment", lag)
	// Started near the live edge (at most the 6-segment window behind) and
	// played in real time: done within the window plus a reload or two.
	require.Less(t, lag, 10*time.Second)
}

// TestURLHLSSeparateAudio plays HLS presentations made by the real ffmpeg
// CLI whose audio is a rendition with a playlist of its own
// (-var_stream_map with agroup: EXT-X-MEDIA TYPE=AUDIO with a URI, and a
// video-only variant), with TS and with fMP4 segments, served over HTTP
// and pulled by a URL ingress. The source is the flash + beep of the A/V
// sync test, its audio starting 0.5 s after its video. A subscriber in the room gets the video in the preset's
// three layers at its frame rate and the audio as Opus that decodes to
// the source's 1 kHz beep, and every beep lands on its flash within the
// A/V sync tolerance: the rendition is played on the variant's timeline.
func TestURLHLSSeparateAudio(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	periodFrames := int(syncEventPeriod.Seconds() * 30)
	video := fmt.Sprintf("color=c=0x202020:s=1280x720:r=30,"+
		"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(mod(n,%d),0)'", periodFrames)
	// The audio starts half a second after the video (-itsoffset), as
	// renditions cut apart from the video may: its beeps are placed so
	// that they still start with the flashes on the shared timeline, which
	// a player that started each stream at its own first frame would miss
	// by 500 ms.
	audio := fmt.Sprintf("aevalsrc=exprs='0.5*sin(2*PI*1000*t)*lt(mod(t+0.5,%g),0.1)':s=48000", syncEventPeriod.Seconds())
	for _, seg := range []string{"mpegts", "fmp4"} {
		t.Run(seg, func(t *testing.T) {
			dir := t.TempDir()
			makeMedia(t, filepath.Join(dir, "out_%v.m3u8"), "-f", "lavfi", "-i", video, "-itsoffset", "0.5", "-f", "lavfi", "-i", audio,
				"-t", itoa(syncSeconds), "-map", "0:v", "-map", "1:a",
				"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-bf", "0", "-g", "60", "-pix_fmt", "yuv420p",
				"-c:a", "aac", "-ar", "48000", "-ac", "2", "-b:a", "128k",
				"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_segment_type", seg,
				"-hls_segment_filename", filepath.Join(dir, "seg_%v_%d."+map[string]string{"mpegts": "ts", "fmp4": "m4s"}[seg]),
				"-var_stream_map", "v:0,agroup:aud a:0,agroup:aud,default:yes", "-master_pl_name", "master.m3u8")
			master, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
			require.NoError(t, err)
			require.Regexp(t, `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud".*DEFAULT=YES,URI="out_1.m3u8"`, string(master))

			room := "hls-sep-" + seg
			base := serveFiles(t, dir)
			sub := e2e.NewSubscriber(t, lk, room)
			sub.CapturePackets()
			info := createURL(ctx, t, c, room, room, base+"/master.m3u8", nil)
			st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			require.Equal(t, uint32(1280), st.State.Video.GetWidth())
			require.Equal(t, "audio/mp4a-latm", st.State.Audio.GetMimeType(), "the rendition's AAC is the input audio")
			p, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == room && len(p.Tracks) == 2 })
			require.NoError(t, err, "video and audio published")
			vti := videoTrack(p)
			require.NotNil(t, vti)
			require.True(t, vti.Simulcast)
			require.Len(t, vti.Layers, 3)
			live, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
				return s.TrackSID == vti.Sid && s.Width == 1280 && s.Window >= 2500*time.Millisecond
			})
			require.NoError(t, err)
			require.InDelta(t, 30, live.FPS, 4, "played at its frame rate")

			end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
			require.Empty(t, end.State.Error)
			_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == room && !p.Connected })
			require.NoError(t, err, "the participant leaves at the end")

			var vt, at e2e.TrackStats
			for _, st := range sub.Stats() {
				switch {
				case st.ParticipantIdentity != room:
				case st.MimeType == "video/H264":
					vt = st
				case st.MimeType == "audio/opus":
					at = st
				}
			}
			require.NotEmpty(t, vt.TrackSID, "video received; tracks: %v", sub.Stats())
			require.NotEmpty(t, at.TrackSID, "audio received; tracks: %v", sub.Stats())
			require.Greater(t, int(vt.Pictures), (syncSeconds-5)*30, "pictures received")

			apkts, dropped := sub.Packets(at.TrackSID)
			require.Zero(t, dropped)
			pcm, err := e2e.DecodeOpusChannel(apkts)
			require.NoError(t, err)
			hz, windows := e2e.ToneFrequency(pcm, 48000, 0.1)
			t.Logf("decoded %.1f s of audio: %d loud 10 ms windows at %.0f Hz", float64(len(pcm))/48000, windows, hz)
			require.InDelta(t, 1000, hz, 30, "the beep's pitch")
			// 10 beeps of 100 ms (the first 0.5 s have no audio): 10
			// windows each, the edges aside.
			require.GreaterOrEqual(t, windows, 60, "the beeps are heard")

			steady := avOffsets(t, sub, vt, at, syncEventPeriod, syncWarmup)
			require.GreaterOrEqual(t, len(steady), (syncSeconds-6)/int(syncEventPeriod.Seconds()), "events measured after the warm-up")
			sorted := slices.Clone(steady)
			slices.Sort(sorted)
			median := sorted[len(sorted)/2]
			t.Logf("A/V offset over %d events: median %+.1f ms, min %+.1f ms, max %+.1f ms (positive: audio late)",
				len(steady), ms(median), ms(sorted[0]), ms(sorted[len(sorted)-1]))
			for _, o := range steady {
				require.LessOrEqual(t, o.Abs(), avSyncTolerance, "A/V offset of an event after the warm-up")
			}
			require.Contains(t, logOf(t, tr), "HLS audio rendition")
		})
	}
}
