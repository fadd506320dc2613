package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// makeMedia encodes a test source to out (the container from its
// extension, or the args) with the real ffmpeg CLI.
func makeMedia(t *testing.T, out string, args ...string) {
	t.Helper()
	full := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)
	full = append(full, out)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, e2e.FFmpegBin(t), full...).CombinedOutput()
	require.NoError(t, err, string(b))
}

func serveFiles(t *testing.T, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

func createURL(ctx context.Context, t *testing.T, c *lksdk.IngressClient, room, identity, u string, transcode *bool) *livekit.IngressInfo {
	t.Helper()
	info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_URL_INPUT, Url: u, RoomName: room, ParticipantIdentity: identity,
		EnableTranscoding: transcode,
	})
	require.NoError(t, err)
	return info
}

// TestURLFiles plays files over HTTP into rooms: an MP4 indexed at the end
// (transcoded into the preset's layers, played in real time, ending
// COMPLETE), a WebM with VP8+Opus forwarded without transcoding, and an
// MP3 that publishes audio only.
func TestURLFiles(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	dir := t.TempDir()
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "8"}
	makeMedia(t, filepath.Join(dir, "talk.mp4"), append(src, "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-c:a", "aac", "-movflags", "+use_metadata_tags")...)
	makeMedia(t, filepath.Join(dir, "clip.webm"), append(src, "-vf", "scale=640:360", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k", "-c:a", "libopus")...)
	makeMedia(t, filepath.Join(dir, "song.mp3"), "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100", "-t", "6", "-c:a", "libmp3lame", "-q:a", "4")
	base := serveFiles(t, dir)

	t.Run("mp4 transcoded in real time", func(t *testing.T) {
		sub := e2e.NewSubscriber(t, lk, "url-mp4")
		start := time.Now()
		info := createURL(ctx, t, c, "url-mp4", "file-mp4", base+"/talk.mp4", nil)
		require.Regexp(t, `^UR_\w{12}$`, info.State.GetResourceId())
		st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		require.Equal(t, "video/H264", st.State.Video.GetMimeType())
		require.Equal(t, uint32(1280), st.State.Video.GetWidth())
		require.Equal(t, uint32(44100), st.State.Audio.GetSampleRate())
		vt, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
			return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
		})
		require.NoError(t, err)
		require.True(t, vt.Simulcast)
		require.Equal(t, 1280, vt.Width)
		require.InDelta(t, 30, vt.FPS, 4, "played at real-time speed")
		end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
		require.Empty(t, end.State.Error)
		took := time.Since(start)
		require.Greater(t, took, 7*time.Second, "8 s of media took %v: not real time", took)
		require.Less(t, took, 30*time.Second)
		_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "file-mp4" && !p.Connected })
		require.NoError(t, err, "the participant leaves at the end")
	})

	t.Run("webm forwarded", func(t *testing.T) {
		sub := e2e.NewSubscriber(t, lk, "url-webm")
		f := false
		info := createURL(ctx, t, c, "url-webm", "file-webm", base+"/clip.webm", &f)
		vt, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
			return s.MimeType == "video/VP8" && s.Width > 0 && s.Window >= 2*time.Second
		})
		require.NoError(t, err)
		require.False(t, vt.Simulcast, "forwarded as is")
		require.Equal(t, 640, vt.Width)
		require.Equal(t, 360, vt.Height)
		at, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool { return s.MimeType == "audio/opus" && s.Window >= 2*time.Second })
		require.NoError(t, err)
		require.InDelta(t, 50, at.FPS, 6)
		waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	})

	t.Run("mp3 audio only", func(t *testing.T) {
		sub := e2e.NewSubscriber(t, lk, "url-mp3")
		info := createURL(ctx, t, c, "url-mp3", "file-mp3", base+"/song.mp3", nil)
		st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		require.Nil(t, st.State.Video)
		require.Equal(t, "audio/mpeg", st.State.Audio.GetMimeType())
		p, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "file-mp3" && len(p.Tracks) > 0 })
		require.NoError(t, err)
		require.Len(t, p.Tracks, 1)
		require.Equal(t, livekit.TrackType_AUDIO, p.Tracks[0].Type)
		waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	})

	t.Run("dead URL", func(t *testing.T) {
		info := createURL(ctx, t, c, "url-404", "file-404", base+"/missing.mp4", nil)
		st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR)
		require.Contains(t, st.State.Error, "HTTP error 404 (Not Found)")
	})

	t.Run("delete stops", func(t *testing.T) {
		sub := e2e.NewSubscriber(t, lk, "url-del")
		info := createURL(ctx, t, c, "url-del", "file-del", base+"/talk.mp4", nil)
		_, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "file-del" && len(p.Tracks) == 2 })
		require.NoError(t, err)
		_, err = c.DeleteIngress(ctx, &livekit.DeleteIngressRequest{IngressId: info.IngressId})
		require.NoError(t, err)
		_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "file-del" && !p.Connected })
		require.NoError(t, err)
	})
}

// TestURLHLSAndSRT plays an HLS VOD made by ffmpeg, pulls MPEG-TS from an
// SRT server (ffmpeg as listener) as upstream's SRT URL input does, and
// takes an SRT push on Tributary's own SRT listener with the stream key as
// streamid.
func TestURLHLSAndSRT(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	srtPort := freeUDPPort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf("srt_port: %d\n", srtPort)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}

	t.Run("hls", func(t *testing.T) {
		dir := t.TempDir()
		makeMedia(t, filepath.Join(dir, "index.m3u8"), append(src, "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
			"-c:a", "aac", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod")...)
		base := serveFiles(t, dir)
		sub := e2e.NewSubscriber(t, lk, "hls")
		info := createURL(ctx, t, c, "hls", "hls-vod", base+"/index.m3u8", nil)
		vt, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
			return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
		})
		require.NoError(t, err)
		require.Equal(t, 640, vt.Width)
		require.InDelta(t, 30, vt.FPS, 4)
		waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	})

	t.Run("srt caller", func(t *testing.T) {
		port := freeUDPPort(t)
		ff := e2e.StartProcess(t, "ffmpeg-srt-listener", e2e.FFmpegBin(t), append(append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re"}, src...),
			"-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac", "-f", "mpegts",
			fmt.Sprintf("srt://127.0.0.1:%d?mode=listener", port))...)
		fctx, stop := ff.WithExit(ctx)
		defer stop()
		sub := e2e.NewSubscriber(t, lk, "srt-pull")
		var info *livekit.IngressInfo
		// ffmpeg binds its listener a moment after starting; the ingress
		// errors if it connects too soon, so retry on ERROR.
		for {
			info = createURL(fctx, t, c, "srt-pull", "srt-pull", fmt.Sprintf("srt://127.0.0.1:%d", port), nil)
			st := waitAny(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING, livekit.IngressState_ENDPOINT_ERROR)
			if st.State.Status == livekit.IngressState_ENDPOINT_PUBLISHING {
				break
			}
			_, _ = c.DeleteIngress(fctx, &livekit.DeleteIngressRequest{IngressId: info.IngressId})
			time.Sleep(200 * time.Millisecond)
		}
		vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
			return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
		})
		require.NoError(t, err)
		require.Equal(t, 640, vt.Width)
		require.InDelta(t, 30, vt.FPS, 4)
	})

	t.Run("srt pull in listener mode", func(t *testing.T) {
		// The ingress listens (srt://…?mode=listener) and the encoder
		// calls it, as GStreamer's srtsrc allows for the official worker.
		port := freeUDPPort(t)
		sub := e2e.NewSubscriber(t, lk, "srt-listen")
		info := createURL(ctx, t, c, "srt-listen", "srt-listen", fmt.Sprintf("srt://127.0.0.1:%d?mode=listener&passphrase=correcthorse1", port), nil)
		time.Sleep(500 * time.Millisecond) // the ingress binds the port
		ff := e2e.StartProcess(t, "ffmpeg-srt-caller", e2e.FFmpegBin(t), append(append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re"}, src...),
			"-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac", "-f", "mpegts",
			fmt.Sprintf("srt://127.0.0.1:%d?passphrase=correcthorse1&pbkeylen=16", port))...)
		fctx, stop := ff.WithExit(ctx)
		defer stop()
		waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
			return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
		})
		require.NoError(t, err)
		require.Equal(t, 640, vt.Width)
	})

	t.Run("srt listener push", func(t *testing.T) {
		info := createRTMP(ctx, t, c, "srt-push", "srt-push", true)
		sub := e2e.NewSubscriber(t, lk, "srt-push")
		ff := e2e.StartProcess(t, "ffmpeg-srt-push", e2e.FFmpegBin(t), append(append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re"}, src...),
			"-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac", "-f", "mpegts",
			fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s", srtPort, info.StreamKey))...)
		fctx, stop := ff.WithExit(ctx)
		defer stop()
		st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		require.Equal(t, uint32(640), st.State.Video.GetWidth())
		vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
			return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
		})
		require.NoError(t, err)
		require.Equal(t, 640, vt.Width)
	})
}

func waitAny(ctx context.Context, t *testing.T, c *lksdk.IngressClient, id string, want ...livekit.IngressState_Status) *livekit.IngressInfo {
	t.Helper()
	for {
		res, err := c.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: id})
		if err == nil && len(res.Items) == 1 {
			for _, w := range want {
				if res.Items[0].State.GetStatus() == w {
					return res.Items[0]
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ingress %s never reached %v", id, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestURLUDP: with enable_udp_url_pull, a URL ingress on udp://127.0.0.1:port
// binds the port and plays the MPEG-TS ffmpeg sends to it (as a headend or
// a contribution encoder does); without it, creating one is refused with
// the key to set, as livekit-server refuses it.
func TestURLUDP(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: "enable_udp_url_pull: true\n"})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	port := freeUDPPort(t)
	sub := e2e.NewSubscriber(t, lk, "udp")
	info := createURL(ctx, t, c, "udp", "udp", fmt.Sprintf("udp://127.0.0.1:%d", port), nil)
	ff := e2e.StartProcess(t, "ffmpeg-udp", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac",
		"-f", "mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, uint32(640), st.State.Video.GetWidth())
	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.Equal(t, 640, vt.Width)
	require.InDelta(t, 30, vt.FPS, 4)

	plain := startTributary(t, tributaryOpts{WsURL: lk.URL})
	_, err = lksdk.NewIngressClient(plain.APIURL, "devkey", "secret").CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_URL_INPUT, Url: fmt.Sprintf("udp://127.0.0.1:%d", port), RoomName: "udp", ParticipantIdentity: "udp",
	})
	require.ErrorContains(t, err, "udp:// URL pulls are off on this server (enable_udp_url_pull)")
}
