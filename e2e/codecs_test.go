package e2e_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
	"github.com/tributary-ingress/tributary/internal/testutil/rtsptest"
)

// The codecs of the sources people point an ingress at beyond what
// encoders for the web send: broadcast and contribution MPEG-TS (MPEG-2
// video, MP2, AC-3, E-AC-3, AAC in LATM), IP cameras over RTSP (G.711,
// AAC in LATM) and production files (PCM in WAV, MOV and Matroska). Each
// source is made by the real ffmpeg CLI from a test picture and a 440 Hz
// tone, and the room is checked as a viewer would: H.264 layers of the
// source's size at its frame rate, and Opus that decodes to the tone.

// toneHz is the audio of every source: ffmpeg's sine at 440 Hz.
const toneHz = 440

// viewerCheck is what a viewer of a transcoded source gets.
type viewerCheck struct {
	identity string
	// width, height and fps of the source; 0 width: audio only.
	width, height int
	fps           float64
	// quieter is true for a 5.1 source whose tone is in the centre
	// channel only (ffmpeg's upmix of a mono sine): the stereo downmix
	// holds it at about a third of the level.
	quieter bool
}

// checkViewer waits for the ingress participant's tracks and checks them:
// the video as H.264 simulcast layers with the top one at the source's
// size and frame rate, and the audio as Opus carrying the source's tone.
// The subscriber must capture packets (CapturePackets before the source
// starts).
func checkViewer(ctx context.Context, t *testing.T, sub *e2e.Subscriber, c viewerCheck) {
	t.Helper()
	if c.width > 0 {
		vt, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
			return s.ParticipantIdentity == c.identity && s.Width > 0 && s.Window >= 2*time.Second
		})
		require.NoError(t, err, "video reaches the viewer")
		require.Equal(t, "video/H264", vt.MimeType, "transcoded to H.264")
		require.True(t, vt.Simulcast, "transcoded into layers")
		require.Len(t, vt.Layers, 3, "the preset's three layers: %v", vt.Layers)
		require.Equal(t, c.width, vt.Width)
		require.Equal(t, c.height, vt.Height)
		require.InDelta(t, c.fps, vt.FPS, 4, "the source's frame rate")
	}
	at, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
		// 4 s of packets captured (the stats window is shorter).
		return s.ParticipantIdentity == c.identity && s.MimeType == "audio/opus" && s.Window >= 2*time.Second && s.Frames >= 200
	})
	require.NoError(t, err, "audio reaches the viewer")
	require.InDelta(t, 50, at.FPS, 6, "20 ms Opus packets")
	pkts, dropped := sub.Packets(at.TrackSID)
	require.Zero(t, dropped)
	tone, err := e2e.DecodeOpusTone(pkts, time.Second)
	require.NoError(t, err)
	t.Logf("%s: the viewer hears %.1f Hz at %.3f RMS over %.1f s", c.identity, tone.Frequency, tone.RMS, tone.Seconds)
	require.InDelta(t, toneHz, tone.Frequency, 5, "the source's tone")
	minRMS := 0.03 // ffmpeg's sine: 0.088 RMS; Opus's stereo of it about 0.06
	if c.quieter {
		minRMS = 0.015
	}
	require.Greater(t, tone.RMS, minRMS, "at about the source's level")
	require.Greater(t, tone.Seconds, 2.0)
}

// ffmpegArgs starts an ffmpeg command line reading a 640x360 test picture
// at 30 fps (unless audioOnly) and the tone at rate Hz, in real time.
func ffmpegArgs(rate int, audioOnly bool) []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re"}
	if !audioOnly {
		args = append(args, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30")
	}
	return append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=%d", toneHz, rate))
}

// TestSourceCodecsTS: an SRT contribution feed of MPEG-2 video and MP2,
// and MPEG-TS files over HTTP with AC-3, DVB's E-AC-3 5.1 and AAC in
// LATM, each transcoded to H.264 layers and Opus.
func TestSourceCodecsTS(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	srtPort := freeUDPPort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf("srt_port: %d\n", srtPort)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctx, stop := tr.WithExit(ctx)
	defer stop()

	t.Run("srt mpeg2 mp2", func(t *testing.T) {
		info := createRTMP(ctx, t, c, "ts-mpeg2", "ts-mpeg2", true)
		sub := e2e.NewSubscriber(t, lk, "ts-mpeg2")
		sub.CapturePackets()
		ff := e2e.StartProcess(t, "ffmpeg-srt-mpeg2", e2e.FFmpegBin(t), append(ffmpegArgs(48000, false),
			"-t", "30", "-c:v", "mpeg2video", "-b:v", "3M", "-g", "15", "-bf", "2", "-c:a", "mp2", "-b:a", "192k",
			"-f", "mpegts", fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s", srtPort, info.StreamKey))...)
		fctx, fstop := ff.WithExit(ctx)
		defer fstop()
		st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		require.Equal(t, "video/MPV", st.State.Video.GetMimeType())
		require.Equal(t, uint32(640), st.State.Video.GetWidth())
		require.Equal(t, uint32(360), st.State.Video.GetHeight())
		require.Equal(t, "audio/MPA", st.State.Audio.GetMimeType())
		require.Equal(t, uint32(48000), st.State.Audio.GetSampleRate())
		checkViewer(fctx, t, sub, viewerCheck{identity: "ts-mpeg2", width: 640, height: 360, fps: 30})
	})

	dir := t.TempDir()
	base := serveFiles(t, dir)
	for _, ca := range []struct {
		name, file string
		codec      []string
		mime       string
		channels   uint32
	}{
		{"http mpeg2 ac3", "mpeg2_ac3.ts", []string{"-c:v", "mpeg2video", "-b:v", "3M", "-g", "15", "-c:a", "ac3", "-ac", "2", "-b:a", "192k"}, "audio/ac3", 2},
		{"http h264 e-ac-3 5.1 dvb", "eac3.ts", []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "eac3",
			"-ac", "6", "-b:a", "384k", "-mpegts_flags", "system_b"}, "audio/eac3", 6},
		{"http h264 aac latm", "latm.ts", []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac",
			"-ac", "2", "-mpegts_flags", "latm"}, "audio/mp4a-latm", 2},
	} {
		t.Run(ca.name, func(t *testing.T) {
			makeMedia(t, filepath.Join(dir, ca.file), append(append(ffmpegArgs(48000, false)[5:], "-t", "8"), ca.codec...)...)
			room := "ts-" + ca.file[:len(ca.file)-3]
			sub := e2e.NewSubscriber(t, lk, room)
			sub.CapturePackets()
			info := createURL(ctx, t, c, room, room, base+"/"+ca.file, nil)
			st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			require.Equal(t, ca.mime, st.State.Audio.GetMimeType())
			require.Equal(t, ca.channels, st.State.Audio.GetChannels())
			checkViewer(ctx, t, sub, viewerCheck{identity: room, width: 640, height: 360, fps: 30, quieter: ca.channels == 6})
			end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
			require.Empty(t, end.State.Error)
		})
	}
}

// TestSourceCodecsRTSP pulls what IP cameras send over RTSP: G.711 A-law
// and µ-law at 8 kHz, and AAC in LATM (RFC 6416, its configuration in the
// SDP), next to H.264, published by the real ffmpeg to gortsplib's server.
func TestSourceCodecsRTSP(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ctx, stop := tr.WithExit(ctx)
	defer stop()
	srv := rtsptest.Start(t)

	for _, ca := range []struct {
		name  string
		audio []string
		mime  string
		rate  uint32
	}{
		{"pcma", []string{"-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1"}, "audio/PCMA", 8000},
		{"pcmu", []string{"-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1"}, "audio/PCMU", 8000},
		{"latm", []string{"-c:a", "aac", "-rtpflags", "latm"}, "audio/mp4a-latm", 48000},
	} {
		t.Run(ca.name, func(t *testing.T) {
			rate := 48000
			if ca.rate == 8000 {
				rate = 8000
			}
			args := append(ffmpegArgs(rate, false), "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
				"-g", "30", "-bf", "0")
			args = append(append(args, ca.audio...), "-f", "rtsp", "-rtsp_transport", "tcp", srv.URL(ca.name))
			ff := e2e.StartProcess(t, "ffmpeg-rtsp-"+ca.name, e2e.FFmpegBin(t), args...)
			fctx, fstop := ff.WithExit(ctx)
			defer fstop()
			require.NoError(t, srv.WaitPublished(fctx, ca.name), "ffmpeg publishes")

			room := "rtsp-" + ca.name
			sub := e2e.NewSubscriber(t, lk, room)
			sub.CapturePackets()
			info := createURL(fctx, t, c, room, room, srv.URL(ca.name), nil)
			st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			require.Equal(t, ca.mime, st.State.Audio.GetMimeType())
			require.Equal(t, ca.rate, st.State.Audio.GetSampleRate())
			checkViewer(fctx, t, sub, viewerCheck{identity: room, width: 640, height: 360, fps: 30})
		})
	}
}

// TestSourceCodecsPCMFiles plays uncompressed audio over HTTP: a WAV (24
// bits, audio only), a QuickTime MOV with 16-bit PCM next to H.264 (as
// cameras and editors write it) and a Matroska with 24-bit PCM next to
// H.264.
func TestSourceCodecsPCMFiles(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ctx, stop := tr.WithExit(ctx)
	defer stop()
	dir := t.TempDir()
	base := serveFiles(t, dir)

	for _, ca := range []struct {
		file      string
		audioOnly bool
		codecs    []string
	}{
		{"tone.wav", true, []string{"-c:a", "pcm_s24le", "-ac", "2"}},
		{"camera.mov", false, []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "pcm_s16le"}},
		{"master.mkv", false, []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "pcm_s24le"}},
	} {
		t.Run(ca.file, func(t *testing.T) {
			makeMedia(t, filepath.Join(dir, ca.file), append(append(ffmpegArgs(48000, ca.audioOnly)[5:], "-t", "8"), ca.codecs...)...)
			room := "pcm-" + ca.file[:len(ca.file)-4]
			sub := e2e.NewSubscriber(t, lk, room)
			sub.CapturePackets()
			info := createURL(ctx, t, c, room, room, base+"/"+ca.file, nil)
			st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			require.Equal(t, "audio/L16", st.State.Audio.GetMimeType())
			require.Equal(t, uint32(48000), st.State.Audio.GetSampleRate())
			check := viewerCheck{identity: room}
			if !ca.audioOnly {
				check.width, check.height, check.fps = 640, 360, 30
			}
			checkViewer(ctx, t, sub, check)
			end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
			require.Empty(t, end.State.Error)
		})
	}
}

// TestWHIPG711 publishes from Chromium with PCMA as the only audio codec
// offered (as SIP gateways and some cameras' WHIP clients do; the
// official worker negotiates PCMA in either mode), to an ingress with
// transcoding and to one without (WHIP's default): the state says PCMA,
// and the room gets Opus carrying the microphone's 440 Hz tone, with the
// video as H.264 layers when transcoding and forwarded unchanged (VP8 at
// the camera's 1280x720, one layer) when not.
func TestWHIPG711(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx, stop := tr.WithExit(ctx)
	defer stop()
	// The fake microphone loops a file of the tone.
	wav := filepath.Join(t.TempDir(), "mic.wav")
	makeMedia(t, wav, append(ffmpegArgs(48000, true)[5:], "-t", "10", "-ac", "2", "-c:a", "pcm_s16le")...)
	pcma := url.Values{"audiocodec": {"PCMA"}}

	for _, tc := range []struct {
		name        string
		transcoding bool
	}{{"transcoded", true}, {"forwarded", false}} {
		t.Run(tc.name, func(t *testing.T) {
			room, identity := "whip-pcma-"+tc.name, "sip-gateway-"+tc.name
			info := createWHIP(ctx, t, c, room, identity, tc.transcoding)
			sub := e2e.NewSubscriber(t, lk, room)
			sub.CapturePackets()
			page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), pcma,
				"--use-file-for-fake-audio-capture="+wav)
			bctx, bstop := page.browser.WithExit(ctx)
			defer bstop()
			page.wait(bctx, t, "posted")
			st := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			require.Equal(t, "audio/PCMA", st.State.Audio.GetMimeType())
			require.Equal(t, uint32(8000), st.State.Audio.GetSampleRate())
			checkViewer(bctx, t, sub, viewerCheck{identity: identity})
			vt, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
				return s.ParticipantIdentity == identity && s.Width > 0 && s.Window >= 2*time.Second
			})
			require.NoError(t, err)
			if tc.transcoding {
				require.Equal(t, "video/H264", vt.MimeType)
				require.True(t, vt.Simulcast)
			} else {
				require.Equal(t, "video/VP8", vt.MimeType, "the camera's codec, forwarded")
				require.False(t, vt.Simulcast)
				require.Equal(t, 1280, vt.Width, "the camera's size")
				require.Equal(t, 720, vt.Height)
				require.Equal(t, "video/VP8", st.State.Video.GetMimeType())
			}
			page.commands <- "delete"
			require.Equal(t, "200", page.wait(bctx, t, "deleted"))
			end := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
			require.Empty(t, end.State.Error)
		})
	}
}
