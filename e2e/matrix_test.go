package e2e_test

import (
	"context"
	"fmt"
	"math"
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

// The media matrix: sources × {audio and video, video only, audio only} ×
// frame rates {24, 25, 30, 50, 60, variable} × encodings {the default
// preset, a 25 fps preset, custom options at 15 fps} × viewers {on HIGH,
// on LOW, switching}. Every case pushes a live source for matrixSeconds
// with ffmpeg and has three viewers in the room at once (one per viewer
// kind), and checks over the whole run, per viewer: the frame rate of
// every second (±10 %, ±20 % for a variable-rate source), the resolution
// of every picture, that latency does not grow, and, with audio, A/V sync
// as a receiver measures it (a flash and a beep every 2 s).
//
// CI runs matrixCI, which covers every value of every axis at least once;
// TRIBUTARY_MATRIX=full (benchmarks/matrix.sh) runs the whole product and
// prints a table row per case.

const (
	matrixSeconds = 16
	// matrixSkip: the first seconds of a viewer (joining, the first
	// keyframe, dynacast settling, and the release delay settling: the
	// adaptive transcode delay grows from its first encode-time samples
	// and the pacer learns an MPEG-TS muxer's audio jitter over 4 s,
	// each stretching the pictures of those seconds — CI saw 22 of 25
	// in the third second of an SRT transcode while its lag grew to 275
	// ms, then 25 a second at a steady lag) are not checked.
	matrixSkip = 4 * time.Second
	// matrixSyncWarmup: A/V sync is asserted from 5 s on. The pacer learns
	// how much later than the video a source sends its audio over a 4 s
	// window of arrivals; an MPEG-TS muxer's audio delay shows in that
	// time (the full matrix measured one event at +122 ms at 2.9 s and
	// 4.9 s on SRT, then within ±1 ms).
	matrixSyncWarmup = 5 * time.Second
	// matrixAudioSpread bounds the spread of the audio frames' lag at the
	// viewer (p10 to p90, so that a busy machine's occasional stall does
	// not count, while a muxer's periodic bursts spread most frames):
	// loopback and the SFU add a few milliseconds.
	matrixAudioSpread = 50 * time.Millisecond
	// matrixAudioWarmup: the audio's lag spread is measured from 6 s on.
	// The pacer measures a source's audio bursts over its first 1.5 s and
	// then waits for them gradually (8 % of the pace, so the picture never
	// freezes), which takes up to 4 s for a muxer's 300 ms bursts.
	matrixAudioWarmup = 6 * time.Second
)

// audioLagSpread returns p90 − p10 of the frames' lag (arrival − RTP time
// at 48 kHz) from skip after the first frame on.
func audioLagSpread(frames []e2e.Picture, skip time.Duration) time.Duration {
	if len(frames) == 0 {
		return 0
	}
	var lags []time.Duration
	for _, f := range frames {
		if f.Arrival.Sub(frames[0].Arrival) < skip {
			continue
		}
		lags = append(lags, f.Arrival.Sub(frames[0].Arrival)-time.Duration(f.RTPTime-frames[0].RTPTime)*time.Second/48000)
	}
	if len(lags) < 100 {
		return time.Hour // too few frames to judge: fails the bound
	}
	slices.Sort(lags)
	return lags[len(lags)*9/10] - lags[len(lags)/10]
}

type matrixCase struct {
	input    string // "rtmp", "srt" (push) or "url" (an MPEG-TS file over HTTP)
	media    string // "av", "video" or "audio"
	rate     string // "24", "25", "30", "50", "60" or "vfr"
	encoding string // "default", "25fps" or "custom15"
}

func (c matrixCase) name() string {
	return fmt.Sprintf("%s_%s_%s_%s", c.input, c.media, c.rate, c.encoding)
}

// matrixCI is the subset CI runs: each input, media kind, frame rate and
// encoding at least once (the three viewers are in every case).
var matrixCI = []matrixCase{
	{"rtmp", "av", "30", "25fps"},      // a cap below the source: 25, not 15
	{"rtmp", "video", "60", "default"}, // video only + dynacast, 60 → 30
	{"srt", "av", "25", "default"},
	{"rtmp", "av", "24", "custom15"},
	{"srt", "video", "50", "25fps"}, // 50 → 25
	{"rtmp", "av", "vfr", "default"},
	{"rtmp", "audio", "30", "default"},
	{"srt", "audio", "30", "default"}, // a TS muxer's audio bursts
	{"url", "av", "60", "25fps"},
}

// matrixFull is the whole product.
func matrixFull() []matrixCase {
	var out []matrixCase
	for _, in := range []string{"rtmp", "srt", "url"} {
		out = append(out, matrixCase{in, "audio", "30", "default"})
		for _, media := range []string{"av", "video"} {
			for _, rate := range []string{"24", "25", "30", "50", "60", "vfr"} {
				for _, enc := range []string{"default", "25fps", "custom15"} {
					out = append(out, matrixCase{in, media, rate, enc})
				}
			}
		}
	}
	return out
}

// videoOptions returns the ingress's video options, its frame-rate cap and
// its layer sizes for a 1280x720 source, HIGH first, LOW last.
func (c matrixCase) videoOptions() (*livekit.IngressVideoOptions, float64, string, string) {
	switch c.encoding {
	case "25fps":
		return &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Preset{
			Preset: livekit.IngressVideoEncodingPreset_H264_540P_25FPS_2_LAYERS}}, 25, "960x540", "480x270"
	case "custom15":
		return &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Options{
			Options: &livekit.IngressVideoEncodingOptions{FrameRate: 15, Layers: []*livekit.VideoLayer{
				{Quality: livekit.VideoQuality_LOW, Width: 426, Height: 240, Bitrate: 300_000},
				{Quality: livekit.VideoQuality_HIGH, Width: 1280, Height: 720, Bitrate: 1_500_000},
			}}}}, 15, "1280x720", "426x240"
	}
	return nil, 30, "1280x720", "320x180"
}

// sourceRate is the source's mean frame rate.
func (c matrixCase) sourceRate() float64 {
	if c.rate == "vfr" {
		return 40 // 60 fps with a random third of the pictures left out
	}
	var r float64
	fmt.Sscan(c.rate, &r)
	return r
}

// ffmpegArgs: a 1280x720 H.264 (no B-frames) + AAC live source with a
// white flash and a 1 kHz beep together every 2 s, pushed to url.
func (c matrixCase) ffmpegArgs(url string) []string {
	rate := c.rate
	if rate == "vfr" {
		rate = "60"
	}
	// The flash lasts one output frame interval, so a frame-rate cap
	// cannot drop every picture of it (60 fps capped at 15 keeps one in
	// four).
	_, capRate, _, _ := c.videoOptions()
	flashRate := min(c.sourceRate(), capRate)
	if c.rate == "vfr" {
		flashRate = min(60, capRate)
	}
	video := fmt.Sprintf("color=c=0x202020:s=1280x720:r=%s,drawtext=text='%%{n}':fontcolor=gray:fontsize=60:x=40:y=40,"+
		"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t,2),%g)'", rate, 0.999/flashRate)
	if c.rate == "vfr" {
		video += ",select='lt(random(0),0.667)+lt(mod(t,2),1/60)'"
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re"}
	if c.media != "audio" {
		args = append(args, "-f", "lavfi", "-i", video)
	}
	if c.media != "video" {
		args = append(args, "-f", "lavfi", "-i", "aevalsrc=exprs='0.5*sin(2*PI*1000*t)*lt(mod(t,2),0.1)':s=48000")
	}
	args = append(args, "-t", fmt.Sprint(matrixSeconds))
	if c.media != "audio" {
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0",
			"-g", "60", "-pix_fmt", "yuv420p")
		if c.rate == "vfr" {
			args = append(args, "-fps_mode", "vfr")
		}
	}
	if c.media != "video" {
		args = append(args, "-c:a", "aac", "-ar", "48000", "-ac", "2")
	}
	format := "flv"
	if c.input != "rtmp" {
		format = "mpegts"
	}
	return append(args, "-f", format, url)
}

// matrixRow is one case's result, per viewer.
type matrixRow struct {
	c        matrixCase
	viewers  []string // "HIGH 30/30 1280x720 lag 3ms" …
	sync     string
	problems []string
}

func TestMediaMatrix(t *testing.T) {
	cases := matrixCI
	if os.Getenv("TRIBUTARY_MATRIX") == "full" {
		cases = matrixFull()
	}
	lk := e2e.StartLiveKit(t)
	srtPort := freeUDPPort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf("srt_port: %d\n", srtPort)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	var rows []matrixRow
	for _, mc := range cases {
		t.Run(mc.name(), func(t *testing.T) {
			row := runMatrixCase(t, lk, tr, c, srtPort, mc)
			rows = append(rows, row)
			for _, p := range row.problems {
				t.Error(p)
			}
		})
	}
	var b strings.Builder
	b.WriteString("| input | media | source fps | encoding | viewers (min fps/want, sizes, max latency growth) | A/V offset median / max | result |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		res := "ok"
		if len(r.problems) > 0 {
			res = fmt.Sprintf("%d problems: %s", len(r.problems), strings.Join(r.problems, "; "))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.c.input, r.c.media, r.c.rate, r.c.encoding,
			strings.Join(r.viewers, "<br>"), r.sync, res)
	}
	t.Logf("media matrix:\n%s", b.String())
	if out := os.Getenv("TRIBUTARY_MATRIX_OUT"); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(b.String()), 0o644))
	}
}

// runMatrixCase pushes one case and reviews what its three viewers got.
func runMatrixCase(t *testing.T, lk *e2e.LiveKit, tr *tributary, c *lksdk.IngressClient, srtPort int, mc matrixCase) matrixRow {
	row := matrixRow{c: mc}
	fail := func(format string, args ...any) { row.problems = append(row.problems, fmt.Sprintf(format, args...)) }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	room := strings.ReplaceAll(mc.name(), "_", "-")
	opts, capRate, highSize, lowSize := mc.videoOptions()
	high, low, sw := e2e.NewSubscriber(t, lk, room), e2e.NewSubscriber(t, lk, room), e2e.NewSubscriber(t, lk, room)
	if mc.media == "av" {
		high.CapturePackets()
	}
	// ended is closed when the source has been sent whole; fctx ends
	// early if the source fails.
	ended := make(chan struct{})
	var sourceErr func() error
	var fctx context.Context
	if mc.input == "url" {
		// A file made beforehand, played from HTTP in real time.
		dir := t.TempDir()
		args := slices.DeleteFunc(mc.ffmpegArgs(filepath.Join(dir, "src.ts")), func(a string) bool { return a == "-re" })
		makeMedia(t, args[len(args)-1], args[:len(args)-1]...)
		info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_URL_INPUT, Url: serveFiles(t, dir) + "/src.ts", RoomName: room,
			ParticipantIdentity: "src", Video: opts,
		})
		require.NoError(t, err)
		fctx = ctx
		go func() {
			defer close(ended)
			for ctx.Err() == nil {
				res, err := c.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: info.IngressId})
				if err == nil && len(res.Items) == 1 {
					switch res.Items[0].State.GetStatus() {
					case livekit.IngressState_ENDPOINT_COMPLETE, livekit.IngressState_ENDPOINT_ERROR:
						return
					}
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
		sourceErr = func() error { return nil }
	} else {
		info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_RTMP_INPUT, RoomName: room, ParticipantIdentity: "src", Video: opts,
		})
		require.NoError(t, err)
		url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey)
		if mc.input == "srt" {
			url = fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s", srtPort, info.StreamKey)
		}
		ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), mc.ffmpegArgs(url)...)
		var stop context.CancelFunc
		fctx, stop = ff.WithExit(ctx)
		defer stop()
		go func() {
			<-ff.Done()
			close(ended)
		}()
		sourceErr = ff.Err
	}

	if mc.media == "audio" {
		at, err := high.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.MimeType == "audio/opus" && s.Window >= 2*time.Second })
		require.NoError(t, err)
		for range 3 {
			time.Sleep(3 * time.Second)
			at, _ = high.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.TrackSID == at.TrackSID })
			if math.Abs(at.FPS-50) > 5 {
				fail("audio: %.1f packets/s (want 50)", at.FPS)
			}
		}
		<-ended
		// Bursts: the spread of the frames' lag (arrival − RTP time) after
		// the pacer's warm-up is what a listener's jitter buffer
		// must absorb; a TS muxer's audio bursts forwarded as they came
		// read over 100 ms here.
		spread := audioLagSpread(high.Timeline(at.TrackSID), matrixAudioWarmup)
		if spread > matrixAudioSpread {
			fail("audio: frames leave in bursts: lag spread p10–p90 %v (want ≤ %v)", spread, matrixAudioSpread)
		}
		row.viewers = append(row.viewers, fmt.Sprintf("audio %.0f packets/s, lag spread %.0f ms", at.FPS, ms(spread)))
		for _, p := range high.Participants() {
			for _, ti := range p.Tracks {
				if p.Identity == "src" && ti.Type == livekit.TrackType_VIDEO {
					fail("an audio-only source published a video track")
				}
			}
		}
		return row
	}

	sid := watchVideo(fctx, t, high)
	require.Equal(t, sid, watchVideo(fctx, t, low))
	require.Equal(t, sid, watchVideo(fctx, t, sw))
	require.NoError(t, high.SetVideoQuality(sid, livekit.VideoQuality_HIGH))
	require.NoError(t, low.SetVideoQuality(sid, livekit.VideoQuality_LOW))
	from := time.Now()
	// The switching viewer: HIGH, LOW, HIGH … every 4 s while the source
	// runs.
	q := livekit.VideoQuality_HIGH
	for {
		require.NoError(t, sw.SetVideoQuality(sid, q))
		q = map[livekit.VideoQuality]livekit.VideoQuality{livekit.VideoQuality_HIGH: livekit.VideoQuality_LOW, livekit.VideoQuality_LOW: livekit.VideoQuality_HIGH}[q]
		select {
		case <-ended:
		case <-time.After(4 * time.Second):
			continue
		}
		break
	}
	if err := sourceErr(); err != nil {
		fail("ffmpeg: %v", err)
	}

	wantFPS := min(mc.sourceRate(), capRate)
	want := timelineWant{fps: wantFPS}
	if mc.rate == "vfr" {
		want.fpsTolerance = 0.2
	}
	for _, v := range []struct {
		name string
		sub  *e2e.Subscriber
		size string
	}{{"HIGH", high, highSize}, {"LOW", low, lowSize}, {"switching", sw, ""}} {
		w := want
		w.size = v.size
		pics := since(v.sub.Timeline(sid), from)
		r := reviewTimeline(pics, matrixSkip, w)
		t.Logf("viewer %s: %d pictures\n%s", v.name, len(pics), e2e.FormatSeconds(r.secs))
		var sizes []string
		for _, s := range r.secs {
			for _, z := range s.Sizes {
				if !slices.Contains(sizes, z) {
					sizes = append(sizes, z)
				}
			}
		}
		row.viewers = append(row.viewers, fmt.Sprintf("%s %d/%.0f %s lag %v", v.name, r.minFPS, wantFPS,
			strings.Join(sizes, ","), r.maxLag.Round(time.Millisecond)))
		for _, p := range r.problems {
			fail("viewer %s: %s", v.name, p)
		}
		if v.size == "" && !(slices.Contains(sizes, highSize) && slices.Contains(sizes, lowSize)) {
			fail("viewer %s: sizes %v, want both %s and %s", v.name, sizes, highSize, lowSize)
		}
	}

	if mc.media == "av" {
		row.sync = matrixSync(t, high, sid, wantFPS, fail)
	}
	if len(row.problems) > 0 {
		// What Tributary did with the layers (dynacast pauses, sheds) and
		// what LiveKit asked of them, for a viewer on the wrong layer.
		var lines []string
		for _, l := range strings.Split(logOf(t, tr), "\n") {
			if strings.Contains(l, `"room": "`+room+`"`) && (strings.Contains(l, "video layer") ||
				strings.Contains(l, "subscribedQualities") || strings.Contains(l, "overload")) || strings.Contains(l, "overload:") {
				lines = append(lines, l)
			}
		}
		t.Logf("Tributary's layer events for %s:\n%s", room, strings.Join(lines, "\n"))
	}
	return row
}

// matrixSync measures A/V sync on the HIGH viewer's capture. A frame-rate
// cap may drop the flash picture and show the next one: an event may be
// off by one output frame interval, the median may not.
func matrixSync(t *testing.T, sub *e2e.Subscriber, videoSID string, fps float64, fail func(string, ...any)) string {
	var vt, at e2e.TrackStats
	for _, st := range sub.Stats() {
		switch {
		case st.TrackSID == videoSID:
			vt = st
		case st.MimeType == "audio/opus":
			at = st
		}
	}
	if at.TrackSID == "" {
		fail("no audio track")
		return "no audio"
	}
	spread := audioLagSpread(sub.Timeline(at.TrackSID), matrixAudioWarmup)
	if spread > matrixAudioSpread {
		fail("audio: frames leave in bursts: lag spread p10–p90 %v (want ≤ %v)", spread, matrixAudioSpread)
	}
	offsets := avOffsets(t, sub, vt, at, 2*time.Second, matrixSyncWarmup)
	if len(offsets) < 4 {
		fail("A/V sync: only %d events measured", len(offsets))
		return "too few events"
	}
	sorted := slices.Clone(offsets)
	slices.SortFunc(sorted, func(a, b time.Duration) int { return int(a.Abs() - b.Abs()) })
	median := sorted[len(sorted)/2]
	worst := sorted[len(sorted)-1]
	if median.Abs() > avSyncTolerance {
		fail("A/V sync: median offset %v", median)
	}
	if bound := avSyncTolerance + time.Duration(float64(time.Second)/fps); worst.Abs() > bound {
		fail("A/V sync: an event is %v off (bound %v)", worst, bound)
	}
	return fmt.Sprintf("%+.0f / %+.0f ms, audio lag spread %.0f ms", ms(median), ms(worst), ms(spread))
}
