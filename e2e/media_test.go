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

// Media checks over whole runs: what a viewer gets in every second of a
// session (frame rate, resolution, latency that does not grow), for
// sources off the common path — video without audio, frame rates other
// than 30, frame-rate caps, resolution changes — and viewers that stay on
// one layer while LiveKit's dynacast pauses the others.

// source is what ffmpeg pushes.
type source struct {
	size  string // e.g. "1280x720"
	rate  string // ffmpeg frame rate, e.g. "30", "25", "60"
	audio bool
	// filter, when set, replaces the video generator (e.g. a source that
	// changes resolution).
	filter string
	secs   int
}

// ffmpegArgs returns the ffmpeg arguments that push s as H.264 (no
// B-frames unless bframes) + AAC to url.
func (s source) ffmpegArgs(url string, extra ...string) []string {
	gen := s.filter
	if gen == "" {
		gen = fmt.Sprintf("testsrc2=size=%s:rate=%s", s.size, s.rate)
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi", "-i", gen}
	if s.audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	args = append(args, "-t", fmt.Sprint(s.secs),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "60", "-pix_fmt", "yuv420p")
	args = append(args, extra...)
	if s.audio {
		args = append(args, "-c:a", "aac", "-ar", "48000", "-ac", "2")
	} else {
		args = append(args, "-an")
	}
	return append(args, "-f", "flv", url)
}

// mediaStack is livekit-server, Tributary and an API client.
type mediaStack struct {
	lk *e2e.LiveKit
	tr *tributary
	c  *lksdk.IngressClient
}

func startMediaStack(t *testing.T) *mediaStack {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	return &mediaStack{lk: lk, tr: tr, c: lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")}
}

// pushRTMP creates an RTMP ingress in room and starts ffmpeg pushing src to
// it; it returns once the ingress is PUBLISHING.
func (m *mediaStack) pushRTMP(ctx context.Context, t *testing.T, room string, video *livekit.IngressVideoOptions, src source, extra ...string) (*livekit.IngressInfo, *e2e.Process) {
	t.Helper()
	info, err := m.c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, Name: room, RoomName: room,
		ParticipantIdentity: "src", Video: video,
	})
	require.NoError(t, err)
	url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", m.tr.RTMPPort, info.StreamKey)
	ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), src.ffmpegArgs(url, extra...)...)
	waitState(ctx, t, m.c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	return info, ff
}

// watchVideo waits for the publisher's video track on sub and returns its
// SID once pictures arrive.
func watchVideo(ctx context.Context, t *testing.T, sub *e2e.Subscriber) string {
	t.Helper()
	p, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool {
		for _, ti := range p.Tracks {
			if p.Identity == "src" && ti.Type == livekit.TrackType_VIDEO {
				return true
			}
		}
		return false
	})
	require.NoError(t, err)
	var sid string
	for _, ti := range p.Tracks {
		if ti.Type == livekit.TrackType_VIDEO {
			sid = ti.Sid
		}
	}
	_, err = sub.WaitTrack(ctx, func(s e2e.TrackStats) bool { return s.TrackSID == sid && s.Width > 0 })
	require.NoError(t, err, "pictures arrive")
	return sid
}

// timelineWant is what every second of a viewer's timeline must show.
type timelineWant struct {
	fps  float64 // pictures per second, ±10 %
	size string  // resolution of every picture, e.g. "320x180"; "" any
	// maxLagGrowth bounds how much later than the most prompt picture any
	// picture arrives (latency growth); default 400 ms.
	maxLagGrowth time.Duration
	// fpsTolerance is the allowed relative deviation of a second's
	// picture count; default 0.1.
	fpsTolerance float64
}

func (w timelineWant) tolerance() float64 {
	if w.fpsTolerance == 0 {
		return 0.1
	}
	return w.fpsTolerance
}

// checkTimeline checks every whole second of a viewer's timeline, from
// skip after its first picture: frame rate, resolution, latency.
func checkTimeline(t *testing.T, who string, pics []e2e.Picture, skip time.Duration, want timelineWant) {
	t.Helper()
	r := reviewTimeline(pics, skip, want)
	t.Logf("%s: %d pictures\n%s", who, len(pics), e2e.FormatSeconds(r.secs))
	require.Empty(t, r.problems, "%s: seconds off target", who)
}

// timelineReview is what reviewTimeline found.
type timelineReview struct {
	secs     []e2e.Second
	problems []string
	minFPS   int           // fewest pictures in a second
	maxLag   time.Duration // largest latency growth
}

// reviewTimeline checks every whole second of a timeline, from skip after
// its first picture, against want; at least five seconds are needed.
func reviewTimeline(pics []e2e.Picture, skip time.Duration, want timelineWant) timelineReview {
	var r timelineReview
	r.secs = e2e.Seconds(pics, 90000, skip)
	if len(r.secs) > 0 {
		r.secs = r.secs[:len(r.secs)-1] // the last second is cut short
	}
	if len(r.secs) < 5 {
		r.problems = append(r.problems, fmt.Sprintf("only %d whole seconds of pictures", len(r.secs)))
		return r
	}
	if want.maxLagGrowth == 0 {
		want.maxLagGrowth = 400 * time.Millisecond
	}
	r.minFPS = r.secs[0].Pictures
	for _, s := range r.secs {
		r.minFPS = min(r.minFPS, s.Pictures)
		r.maxLag = max(r.maxLag, s.Lag)
		low := (1 - want.tolerance()) * want.fps
		if len(s.Sizes) > 1 {
			// A second with a resolution change (a layer switch in the
			// SFU, an encoder restarted) may lose a few pictures.
			low = 0.7 * want.fps
		}
		switch {
		case float64(s.Pictures) < low || float64(s.Pictures) > (1+want.tolerance())*want.fps+1:
			r.problems = append(r.problems, fmt.Sprintf("%.0fs: %d pictures (want %.0f)", s.Start.Seconds(), s.Pictures, want.fps))
		case want.size != "" && (len(s.Sizes) != 1 || s.Sizes[0] != want.size):
			r.problems = append(r.problems, fmt.Sprintf("%.0fs: sizes %v (want %s)", s.Start.Seconds(), s.Sizes, want.size))
		case s.Lag > want.maxLagGrowth:
			r.problems = append(r.problems, fmt.Sprintf("%.0fs: latency grew by %v", s.Start.Seconds(), s.Lag.Round(time.Millisecond)))
		}
	}
	return r
}

// TestMediaVideoOnlyDynacast: a video-only source (a camera without a
// microphone, a screen capture) transcoded with the default preset. One
// viewer stays on LOW for the whole run, so LiveKit's dynacast pauses
// MEDIUM and HIGH after ~5 s; LOW must keep 30 fps at 320x180 and its
// latency must not grow. A second viewer then asks for HIGH, which
// resumes it: 1280x720 at 30 fps from its first picture, while LOW goes
// on unchanged.
func TestMediaVideoOnlyDynacast(t *testing.T) {
	m := startMediaStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	low := e2e.NewSubscriber(t, m.lk, "vonly")
	_, ff := m.pushRTMP(ctx, t, "vonly", nil, source{size: "1280x720", rate: "30", secs: 40})
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	sid := watchVideo(fctx, t, low)
	require.NoError(t, low.SetVideoQuality(sid, livekit.VideoQuality_LOW))
	_, err := low.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.TrackSID == sid && s.Width == 320 })
	require.NoError(t, err)
	switched := time.Now()

	// LiveKit pauses MEDIUM and HIGH ~5 s after the switch; watch LOW for
	// 10 s past that.
	waitPaused(t, m.tr, 2, "MEDIUM and HIGH were not paused with the only viewer on LOW")
	time.Sleep(10 * time.Second)

	high := e2e.NewSubscriber(t, m.lk, "vonly")
	hsid := watchVideo(fctx, t, high)
	require.Equal(t, sid, hsid)
	_, err = high.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.TrackSID == sid && s.Width == 1280 })
	require.NoError(t, err, "HIGH reaches the second viewer")
	highFrom := time.Now()
	time.Sleep(10 * time.Second)

	lowPics := since(low.Timeline(sid), switched)
	checkTimeline(t, "viewer on LOW", lowPics, time.Second, timelineWant{fps: 30, size: "320x180"})
	highPics := since(high.Timeline(sid), highFrom)
	checkTimeline(t, "viewer on HIGH", highPics, 0, timelineWant{fps: 30, size: "1280x720"})
	require.NotContains(t, logOf(t, m.tr), `"level":"error"`)
}

// since keeps the pictures that arrived at or after from.
func since(pics []e2e.Picture, from time.Time) []e2e.Picture {
	for i, p := range pics {
		if !p.Arrival.Before(from) {
			return pics[i:]
		}
	}
	return nil
}
