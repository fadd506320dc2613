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

// reuseSource is what an OBS set to the 720p preset sends: 1280x720 at
// 30 fps, Constrained Baseline without B-frames, 2 Mbps, a keyframe every
// second.
var reuseSource = []string{"-vf", "scale=1280:720", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline",
	"-bf", "0", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M",
	"-pix_fmt", "yuv420p"}

// layerCheck is one layer a subscriber switches to.
type layerCheck struct {
	quality livekit.VideoQuality
	w, h    int
	// source: the layer's slices are the source's own; else none is.
	source bool
}

// checkLayers pushes file src (whose slice hashes are source) over RTMP to
// a transcoding ingress and, for each layer in turn, has the subscriber
// switch to it, waits for its pictures and checks that every slice
// received from then on is (or is not) a source slice, and its size and
// frame rate.
func checkLayers(t *testing.T, room, src string, layers []layerCheck) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	info := createRTMP(ctx, t, c, room, room, true)
	sub := e2e.NewSubscriber(t, lk, room)
	source := sliceHashes(t, src)
	ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-i", src, "-c", "copy", "-f", "flv", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey))
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.MimeType == "video/H264" && s.Width > 0 })
	require.NoError(t, err)
	sid := vt.TrackSID
	// The measurement takes the source's first 2 s; give it 3 more.
	_, err = sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.TrackSID == sid && s.Pictures >= 150 })
	require.NoError(t, err)
	for _, l := range layers {
		require.NoError(t, sub.SetVideoQuality(sid, l.quality))
		at, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool { return s.TrackSID == sid && s.Width == l.w })
		require.NoError(t, err, "quality %s", l.quality)
		// The switch is done once the layer's SPS arrived: what comes
		// after is that layer's, for a whole rate window.
		before := sub.SliceHashes(sid)
		st, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
			return s.TrackSID == sid && s.Pictures >= at.Pictures+100
		})
		require.NoError(t, err, "quality %s", l.quality)
		require.Equal(t, l.w, st.Width, "quality %s", l.quality)
		require.Equal(t, l.h, st.Height, "quality %s", l.quality)
		require.GreaterOrEqual(t, st.PictureFPS, 25.0, "quality %s frame rate", l.quality)
		var fresh, fromSource int
		for h := range sub.SliceHashes(sid) {
			if _, ok := before[h]; ok {
				continue
			}
			fresh++
			if _, ok := source[h]; ok {
				fromSource++
			}
		}
		t.Logf("%s %dx%d %.1f fps: %d new slices, %d of them the source's", l.quality, st.Width, st.Height, st.PictureFPS, fresh, fromSource)
		require.Greater(t, fresh, 90, "quality %s", l.quality)
		if l.source {
			require.Equal(t, fresh, fromSource, "quality %s: every slice is the source's own (forwarded, not encoded)", l.quality)
		} else {
			require.Zero(t, fromSource, "quality %s: encoded, no slice of the source", l.quality)
		}
	}
}

// TestRTMPTranscodeReusesTopLayer: with transcoding on and the default
// 720p preset, a 1280x720 30 fps Constrained Baseline source without
// B-frames is sent as the HIGH layer as it is — every slice a HIGH viewer
// receives is byte for byte a slice of the pushed file — while MEDIUM and
// LOW are encoded at 640x360 and 320x180; every layer at ≥ 25 fps.
func TestRTMPTranscodeReusesTopLayer(t *testing.T) {
	src := encodeFile(t, "src.flv", 30, reuseSource...)
	checkLayers(t, "reuse", src, []layerCheck{
		{livekit.VideoQuality_HIGH, 1280, 720, true},
		{livekit.VideoQuality_MEDIUM, 640, 360, false},
		{livekit.VideoQuality_LOW, 320, 180, false},
	})
}

// TestRTMPTranscodeEncodesTopLayerWithBFrames: the same 720p source with
// B-frames (High profile) is not forwarded: all three layers are encoded.
func TestRTMPTranscodeEncodesTopLayerWithBFrames(t *testing.T) {
	args := append([]string{}, reuseSource...)
	for i, a := range args {
		switch a {
		case "baseline":
			args[i] = "high"
		case "ultrafast":
			args[i] = "veryfast"
		}
		if a == "-bf" {
			args[i+1] = "2"
		}
	}
	src := encodeFile(t, "src.flv", 30, args...)
	checkLayers(t, "noreuse", src, []layerCheck{
		{livekit.VideoQuality_HIGH, 1280, 720, false},
		{livekit.VideoQuality_LOW, 320, 180, false},
	})
}

// TestRTMPTranscodeReuseFallsBack: a source forwarded as HIGH that changes
// its canvas (1280x720 → 960x720, with a new sequence header, as a
// restarted OBS output does) makes HIGH encoded again from that keyframe:
// the HIGH viewer goes from 1280x720 to 960x720 and LOW's from 320x180 to
// 240x180 with 30 pictures in every second, and the log says the layer was
// forwarded, then encoded because of the new size.
func TestRTMPTranscodeReuseFallsBack(t *testing.T) {
	m := startMediaStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tags := changingFLV(t, []string{"1280x720", "960x720"}, 8,
		"-profile:v", "baseline", "-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M")
	info := createRTMP(ctx, t, m.c, "reuse-change", "src", true)
	published := make(chan error, 1)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		published <- e2e.PublishFLV(pctx, fmt.Sprintf("127.0.0.1:%d", m.tr.RTMPPort), "live", info.StreamKey, tags, nil)
	}()
	v := watchHighAndLow(ctx, t, m.lk, "reuse-change")
	// The HIGH viewer may get LOW for a moment at the start (LiveKit's
	// allocator settling): checked from its first HIGH picture on.
	_, err := v.high.WaitTrack(ctx, func(s e2e.TrackStats) bool { return s.TrackSID == v.sid && s.Width == 1280 })
	require.NoError(t, err, "HIGH reaches its viewer")
	v.from = time.Now()
	select {
	case err := <-published:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("the publisher did not finish")
	}
	v.check(t, []string{"1280x720", "960x720"}, []string{"320x180", "240x180"})
	log := logOf(t, m.tr)
	require.Contains(t, log, "video top layer forwarded from the source")
	require.Regexp(t, `video top layer encoded[^\n]*960x720`, log)
}
