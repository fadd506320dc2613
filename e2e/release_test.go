package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// The release files, built once per test binary by scripts/release.sh as
// the README's "Deploy" section says (its FFmpeg build cached in
// ~/.cache/tributary; scripts/test.sh makes it in its set-up).
var (
	releaseOnce sync.Once
	releaseDir  string
	releaseErr  error
	releaseLog  string
)

// releaseBuild runs scripts/release.sh into a directory of this test
// binary and returns the paths of the full and passthrough files.
func releaseBuild(t *testing.T) (full, passthrough string) {
	t.Helper()
	if os.Getuid() != 0 {
		// The bare root needs mount and chroot.
		if os.Getenv("TRIBUTARY_E2E_REQUIRED") != "" {
			t.Fatal("the release tests run the binaries in a mount namespace and chroot: they need root")
		}
		t.Skip("the release tests run the binaries in a mount namespace and chroot: they need root")
	}
	releaseOnce.Do(func() {
		releaseDir = filepath.Join(filepath.Dir(tributaryBin), "dist")
		cmd := exec.Command("bash", "../scripts/release.sh")
		cmd.Env = append(os.Environ(), "DIST="+releaseDir)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		releaseLog = string(out)
		if err != nil {
			releaseErr = fmt.Errorf("scripts/release.sh: %w", err)
			return
		}
		t.Logf("scripts/release.sh took %v", time.Since(start).Round(time.Second))
	})
	if releaseErr != nil {
		t.Fatalf("%v\n%s", releaseErr, releaseLog)
	}
	return filepath.Join(releaseDir, "tributary-linux-amd64"), filepath.Join(releaseDir, "tributary-linux-amd64-passthrough")
}

// Where the README's systemd unit puts things; the bare root follows it.
const (
	deployBin    = "/usr/local/bin/tributary"
	deployConfig = "/etc/tributary/config.yaml"
	deployStore  = "/var/lib/tributary/ingress.db"
)

// bareRoot is a root file system holding only a release binary, the
// shared libraries ldd names for it, and the config (plus the kernel's
// /proc and an empty /tmp): the binary runs in a mount namespace of its own whose root is a
// fresh tmpfs with these files copied in (chroot). The network namespace
// is shared, so the test's livekit-server and clients on 127.0.0.1 reach
// it.
type bareRoot struct {
	stage string   // the files, laid out as in the root
	mount string   // the empty directory the tmpfs is mounted on
	libs  []string // what ldd names, as host paths
}

// lddLibs returns the files ldd names for bin (none for a static binary).
func lddLibs(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		require.Contains(t, string(out), "not a dynamic executable", "ldd %s", bin)
		return nil
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if _, after, ok := strings.Cut(line, "=>"); ok {
			line = strings.TrimSpace(after)
		}
		path, _, _ := strings.Cut(line, " ")
		if strings.HasPrefix(path, "/") {
			libs = append(libs, path)
		}
	}
	return libs
}

func newBareRoot(t *testing.T, bin string) *bareRoot {
	t.Helper()
	dir := t.TempDir()
	r := &bareRoot{stage: filepath.Join(dir, "stage"), mount: filepath.Join(dir, "root"), libs: lddLibs(t, bin)}
	require.NoError(t, os.MkdirAll(r.mount, 0o755))
	for _, f := range append([]string{bin}, r.libs...) {
		dst := filepath.Join(r.stage, f)
		if f == bin {
			dst = filepath.Join(r.stage, deployBin)
		}
		// ldd names links (ld-linux-x86-64.so.2): copy what they point to.
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, data, 0o755))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(r.stage, filepath.Dir(deployStore)), 0o750))
	// An empty /tmp, as every system has (URL pulls spool there).
	require.NoError(t, os.Mkdir(filepath.Join(r.stage, "tmp"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(r.stage, "tmp"), 0o1777))
	return r
}

// command returns the command running args inside the bare root.
func (r *bareRoot) command(args ...string) (string, []string) {
	// /proc is the kernel's, as on any machine (Tributary reads
	// /proc/stat for its CPU load).
	const script = `m=$1 s=$2; shift 2
mount -t tmpfs -o mode=0755,size=512m tributary-root "$m" && cp -a "$s"/. "$m"/ &&
mkdir "$m/proc" && mount -t proc proc "$m/proc" && exec chroot "$m" "$@"`
	return "unshare", append([]string{"--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", r.mount, r.stage}, args...)
}

// run runs the binary in the bare root with args and returns its output.
func (r *bareRoot) run(t *testing.T, args ...string) string {
	t.Helper()
	bin, argv := r.command(append([]string{deployBin}, args...)...)
	out, err := exec.Command(bin, argv...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

// launch starts the binary in the bare root as the README's systemd unit
// does, with the config startTributary wrote (its store moved to the
// unit's state directory).
func (r *bareRoot) launch(t *testing.T, confPath string) *e2e.Process {
	t.Helper()
	conf, err := os.ReadFile(confPath)
	require.NoError(t, err)
	conf = regexp.MustCompile(`(?m)^store_path: .*$`).ReplaceAll(conf, []byte("store_path: "+deployStore))
	dst := filepath.Join(r.stage, deployConfig)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, conf, 0o600))
	bin, argv := r.command(deployBin, "--config", deployConfig)
	return e2e.StartProcess(t, "tributary", bin, argv...)
}

// glibcOnly matches the libraries of glibc (and its loader).
var glibcOnly = regexp.MustCompile(`/(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2)$`)

// TestReleaseTranscode runs tributary-linux-amd64, as scripts/release.sh
// builds it, alone in a root holding only the file and the glibc
// libraries ldd names (no FFmpeg, x264, opus or vpx anywhere), pushes
// 1080p30 H.264 High with B-frames and AAC to it with the real ffmpeg CLI
// from outside, and checks the room: three H.264 layers at 1280x720,
// 640x360 and 320x180 (sizes parsed from the received bitstream) and Opus.
// Then it pulls a file of every other decoder the static FFmpeg holds
// (MPEG-2 video, MP2, AC-3, E-AC-3, G.711, PCM) and checks the layers and
// the tone a viewer gets.
func TestReleaseTranscode(t *testing.T) {
	full, _ := releaseBuild(t)
	root := newBareRoot(t, full)
	require.NotEmpty(t, root.libs)
	for _, l := range root.libs {
		require.Regexp(t, glibcOnly, l, "tributary-linux-amd64 loads only glibc")
	}
	version := root.run(t, "--version")
	t.Logf("--version in the bare root:\n%s", version)
	require.Contains(t, version, "transcoding: yes, FFmpeg linked statically\n")
	require.Contains(t, version, "encoders:    h264 (libx264) vp8 (libvpx) opus (libopus)\n")
	require.Contains(t, version, "decoders:    h264 hevc vp8 vp9 aac mp3 (mp3float) opus vorbis flac mpeg2video mp2 ac3 eac3 pcm_alaw pcm_mulaw pcm_s16le\n")

	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Launch: root.launch, LogLevel: "info"})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, Name: "release", RoomName: "release-room",
		ParticipantIdentity: "release-stream", ParticipantName: "Release",
	})
	require.NoError(t, err)
	sub := e2e.NewSubscriber(t, lk, "release-room")
	ff := ffmpegRTMP(t, fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey), 30,
		"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-bf", "2", "-g", "60", "-pix_fmt", "yuv420p")
	fctx, stop := ff.WithExit(ctx)
	defer stop()

	st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, "video/H264", st.State.Video.GetMimeType())
	require.Equal(t, uint32(1920), st.State.Video.GetWidth())
	require.Equal(t, "audio/mp4a-latm", st.State.Audio.GetMimeType())

	p, err := sub.WaitParticipant(fctx, func(p e2e.Participant) bool {
		return p.Identity == "release-stream" && p.Connected && len(p.Tracks) == 2
	})
	require.NoError(t, err)
	vti := videoTrack(p)
	require.NotNil(t, vti)
	require.True(t, vti.Simulcast)
	require.Len(t, vti.Layers, 3)
	_, err = sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.TrackSID == vti.Sid && s.Width > 0 })
	require.NoError(t, err)
	for _, q := range []struct {
		quality livekit.VideoQuality
		w, h    int
	}{{livekit.VideoQuality_HIGH, 1280, 720}, {livekit.VideoQuality_LOW, 320, 180}, {livekit.VideoQuality_MEDIUM, 640, 360}} {
		require.NoError(t, sub.SetVideoQuality(vti.Sid, q.quality))
		// The first seconds of a layer may be slower on a busy machine:
		// wait for the source's rate.
		vs, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
			return s.TrackSID == vti.Sid && s.Width == q.w && s.Window >= 2*time.Second && s.FPS >= 25
		})
		require.NoError(t, err, "quality %s at about 30 fps", q.quality)
		require.Equal(t, q.h, vs.Height)
		require.Equal(t, "video/H264", vs.MimeType)
		require.LessOrEqual(t, vs.FPS, 35.0, "quality %s frame rate", q.quality)
	}
	as, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "release-stream" && s.MimeType == "audio/opus" && s.Window >= 2*time.Second && s.FPS >= 45
	})
	require.NoError(t, err, "Opus packets of 20 ms, about 50 a second")
	require.LessOrEqual(t, as.FPS, 55.0, "Opus packets of 20 ms")
	stop()

	select {
	case <-ff.Done():
		require.NoError(t, ff.Err(), "ffmpeg finished its push")
	case <-ctx.Done():
		t.Fatal("ffmpeg did not finish")
	}
	end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.State.Error)

	// Every decoder the static FFmpeg got for broadcast, camera and
	// production sources, on a file of each pulled over HTTP: the viewer
	// gets the layers and hears the tone.
	dir := t.TempDir()
	base := serveFiles(t, dir)
	for _, f := range []struct {
		file   string
		video  bool
		rate   int
		codecs []string
	}{
		{"mpeg2_mp2.ts", true, 48000, []string{"-c:v", "mpeg2video", "-b:v", "2M", "-c:a", "mp2"}},
		{"ac3.mkv", true, 48000, []string{"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "ac3"}},
		{"eac3.ts", false, 48000, []string{"-c:a", "eac3"}},
		{"alaw.wav", false, 8000, []string{"-c:a", "pcm_alaw"}},
		{"mulaw.wav", false, 8000, []string{"-c:a", "pcm_mulaw"}},
		{"s24.wav", false, 48000, []string{"-c:a", "pcm_s24le"}},
	} {
		args := append(ffmpegArgs(f.rate, !f.video)[5:], "-t", "7")
		makeMedia(t, filepath.Join(dir, f.file), append(args, f.codecs...)...)
		room := "release-" + strings.ReplaceAll(f.file, ".", "-")
		sub := e2e.NewSubscriber(t, lk, room)
		sub.CapturePackets()
		info := createURL(ctx, t, c, room, room, base+"/"+f.file, nil)
		check := viewerCheck{identity: room}
		if f.video {
			check.width, check.height, check.fps = 640, 360, 30
		}
		checkViewer(ctx, t, sub, check)
		end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
		require.Empty(t, end.State.Error, f.file)
	}
}

// TestReleasePassthrough runs tributary-linux-amd64-passthrough alone in
// an empty root (it is static: ldd names nothing) and checks what the
// README promises of it: a WHIP publish from headless Chromium is
// forwarded (VP8 at the browser's size, and Opus), and one offering only
// G.711 audio is refused with the reason; an RTMP ingress that
// transcodes (the RTMP default) ends in ERROR naming this build and the
// one to run, without joining the room; and H.264 without B-frames with
// AAC, transcoding off, publishes the video alone, the state saying why
// the audio is missing.
func TestReleasePassthrough(t *testing.T) {
	_, pass := releaseBuild(t)
	root := newBareRoot(t, pass)
	require.Empty(t, root.libs, "the passthrough file is static")
	version := root.run(t, "--version")
	t.Logf("--version in the bare root:\n%s", version)
	require.Contains(t, version, "transcoding: not in this build")

	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Launch: root.launch, LogLevel: "info"})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	t.Run("WHIP from Chromium is forwarded", func(t *testing.T) {
		info := createWHIP(ctx, t, c, "release-whip", "browser-cam", false)
		sub := e2e.NewSubscriber(t, lk, "release-whip")
		page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), nil)
		bctx, stop := page.browser.WithExit(ctx)
		defer stop()
		page.wait(bctx, t, "posted")
		st := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		require.Equal(t, "video/VP8", st.State.Video.GetMimeType())
		require.Equal(t, "audio/opus", st.State.Audio.GetMimeType())
		p, err := sub.WaitParticipant(bctx, func(p e2e.Participant) bool {
			return p.Identity == "browser-cam" && p.Connected && len(p.Tracks) == 2
		})
		require.NoError(t, err)
		vti := videoTrack(p)
		require.NotNil(t, vti)
		vs, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
			return s.TrackSID == vti.Sid && s.Width > 0 && s.Window >= 2*time.Second && s.FPS >= 15
		})
		require.NoError(t, err)
		require.Equal(t, "video/VP8", vs.MimeType)
		require.Equal(t, 1280, vs.Width, "the browser's own frames, forwarded")
		require.Equal(t, 720, vs.Height)
		_, err = sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
			return s.ParticipantIdentity == "browser-cam" && s.MimeType == "audio/opus" && s.Window >= 2*time.Second
		})
		require.NoError(t, err)
		page.commands <- "delete"
		require.Equal(t, "200", page.wait(bctx, t, "deleted"))
		end := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
		require.Empty(t, end.State.Error)
	})

	t.Run("WHIP offering only G.711 is refused with the reason", func(t *testing.T) {
		info := createWHIP(ctx, t, c, "release-whip-pcma", "sip-gateway", false)
		page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey),
			url.Values{"audiocodec": {"PCMA"}})
		bctx, stop := page.browser.WithExit(ctx)
		defer stop()
		var msg string
		for msg == "" {
			select {
			case e := <-page.events:
				require.NotEqual(t, "posted", e.Ev, "the offer is refused")
				if e.Ev == "error" {
					msg = e.Data
				}
			case <-bctx.Done():
				t.Fatalf("the page reported no error: %v", context.Cause(bctx))
			}
		}
		t.Logf("page: %s", msg)
		require.Contains(t, msg, "WHIP POST: 400")
		require.Contains(t, msg, "G.711 audio (PCMA) must be transcoded to Opus, and this Tributary cannot transcode (the passthrough build)")
	})

	t.Run("RTMP that needs transcoding ends in ERROR", func(t *testing.T) {
		info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_RTMP_INPUT, Name: "obs", RoomName: "release-rtmp",
			ParticipantIdentity: "obs-stream",
		})
		require.NoError(t, err)
		ffmpegRTMP(t, fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey), 20,
			"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-bf", "2", "-g", "60", "-pix_fmt", "yuv420p")
		st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR)
		t.Logf("state error: %s", st.State.Error)
		require.Contains(t, st.State.Error, "this ingress has transcoding enabled, but transcoding is not in this build")
		require.Contains(t, st.State.Error, "run the tributary-linux-amd64 build to transcode")
		require.Contains(t, st.State.Error, "disable transcoding on the ingress and send WebRTC-ready media")
		require.Empty(t, st.State.RoomId, "refused before joining the room")
		require.Empty(t, st.State.Tracks)
		require.Equal(t, "video/H264", st.State.Video.GetMimeType(), "the input is still described")
	})

	t.Run("H.264 and AAC: the video alone, with a warning", func(t *testing.T) {
		off := false
		info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_RTMP_INPUT, Name: "baseline", RoomName: "release-aac",
			ParticipantIdentity: "baseline-stream", EnableTranscoding: &off,
		})
		require.NoError(t, err)
		sub := e2e.NewSubscriber(t, lk, "release-aac")
		ff := ffmpegRTMP(t, fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey), 15,
			"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-g", "30", "-pix_fmt", "yuv420p")
		fctx, stop := ff.WithExit(ctx)
		defer stop()
		st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		require.Contains(t, st.State.Error, "AAC audio not published, only the video")
		require.Contains(t, st.State.Error, "tributary-linux-amd64")
		require.Equal(t, "audio/mp4a-latm", st.State.Audio.GetMimeType())
		p, err := sub.WaitParticipant(fctx, func(p e2e.Participant) bool {
			return p.Identity == "baseline-stream" && p.Connected && len(p.Tracks) > 0
		})
		require.NoError(t, err)
		require.Len(t, p.Tracks, 1, "no audio track")
		vti := videoTrack(p)
		require.NotNil(t, vti)
		vs, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
			return s.TrackSID == vti.Sid && s.Width > 0 && s.Window >= 2*time.Second
		})
		require.NoError(t, err)
		require.Equal(t, "video/H264", vs.MimeType)
		require.Equal(t, 1920, vs.Width, "forwarded, not scaled")
		require.Equal(t, 1080, vs.Height)
		require.InDelta(t, 30, vs.FPS, 5)
	})
	// Broadcast and camera codecs need the decoders of the full file.
	dir := t.TempDir()
	makeMedia(t, filepath.Join(dir, "broadcast.ts"), "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-c:v", "mpeg2video", "-c:a", "mp2")
	makeMedia(t, filepath.Join(dir, "camera.mov"), "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", "8", "-c:v", "libx264", "-profile:v", "baseline",
		"-preset", "ultrafast", "-g", "30", "-c:a", "pcm_alaw")
	base := serveFiles(t, dir)
	off := false

	t.Run("MPEG-2 video ends in ERROR naming the full file", func(t *testing.T) {
		info := createURL(ctx, t, c, "release-mpeg2", "broadcast", base+"/broadcast.ts", &off)
		st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR)
		t.Logf("state error: %s", st.State.Error)
		require.Contains(t, st.State.Error, "unsupported video codec MPEG-2 video for passthrough")
		require.Contains(t, st.State.Error, "run the tributary-linux-amd64 build to transcode")
		require.Equal(t, "video/MPV", st.State.Video.GetMimeType(), "the input is still described")
		require.Empty(t, st.State.RoomId, "refused before joining the room")
	})

	t.Run("G.711 next to H.264: the video alone, with a warning", func(t *testing.T) {
		sub := e2e.NewSubscriber(t, lk, "release-g711")
		info := createURL(ctx, t, c, "release-g711", "camera", base+"/camera.mov", &off)
		st := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
		t.Logf("state error: %s", st.State.Error)
		require.Contains(t, st.State.Error, "G.711 A-law (PCMA) audio not published, only the video")
		require.Contains(t, st.State.Error, "tributary-linux-amd64")
		require.Equal(t, "audio/PCMA", st.State.Audio.GetMimeType())
		p, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool {
			return p.Identity == "camera" && p.Connected && len(p.Tracks) > 0
		})
		require.NoError(t, err)
		require.Len(t, p.Tracks, 1, "no audio track")
	})
}
