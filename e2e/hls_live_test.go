package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/e2e"
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

// TestURLHLSSeparateAudio plays an HLS master playlist made by ffmpeg
// whose audio is a rendition of its own (EXT-X-MEDIA with a URI): the video
// variant plays, and the log says plainly that its audio is not played
// (rather than the room silently getting no audio).
func TestURLHLSSeparateAudio(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	makeMedia(t, filepath.Join(dir, "out_%v.m3u8"), "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-map", "0:v", "-map", "1:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac",
		"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
		"-var_stream_map", "v:0,agroup:aud a:0,agroup:aud", "-master_pl_name", "master.m3u8")
	base := serveFiles(t, dir)
	sub := e2e.NewSubscriber(t, lk, "hls-sep")
	info := createURL(ctx, t, c, "hls-sep", "hls-sep", base+"/master.m3u8", nil)
	vt, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && s.Width == 640 && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.InDelta(t, 30, vt.FPS, 4)
	end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	require.Empty(t, end.State.Error)
	require.Regexp(t, `separate renditions[^\n]*"renditions": 1`, logOf(t, tr))
}
