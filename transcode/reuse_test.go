package transcode

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// reuseLayers are the boxes of the reuse tests: the top one is the
// 320x180 sources' size.
var reuseLayers = []LayerTarget{{160, 90, 150_000}, {320, 180, 600_000}}

// reuseSource encodes seconds of a 320x180 (or size) 30 fps source with a
// keyframe every second and returns its video frames, parameter sets in
// front of keyframes as the session puts them.
func reuseSource(t *testing.T, seconds, size string, extra ...string) (*media.Track, []*media.Frame) {
	t.Helper()
	args := append([]string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=30", "-t", seconds,
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
		"-b:v", "300k", "-maxrate", "300k", "-bufsize", "300k", "-pix_fmt", "yuv420p"}, extra...)
	path := makeFLV(t, args...)
	vtrack, _, frames := readFLV(t, path)
	require.NotNil(t, vtrack)
	var out []*media.Frame
	for _, f := range frames {
		if f.Track.Kind == media.KindVideo {
			out = append(out, withParams(t, vtrack, f))
		}
	}
	return vtrack, out
}

var baselineArgs = []string{"-profile:v", "baseline", "-bf", "0"}

// runReuse transcodes frames with ReuseTop into reuseLayers (blocking) and
// returns what each layer got.
func runReuse(t *testing.T, src *media.Track, frames []*media.Frame, maxRate float64, hook func(v *Video, n int, out *layerOut)) (*Video, map[int][]*media.Frame) {
	t.Helper()
	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: src, Codec: media.CodecH264, MaxFrameRate: maxRate, Layers: reuseLayers,
		Output: out.add, Blocking: true, ReuseTop: true})
	require.NoError(t, err)
	for n, f := range frames {
		if hook != nil {
			hook(v, n, out)
		}
		require.NoError(t, v.Write(f))
	}
	require.NoError(t, v.Close())
	return v, out.frames
}

// sameData reports whether two frames carry the same bytes.
func sameData(a, b *media.Frame) bool {
	if len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if !bytes.Equal(a.Data[i], b.Data[i]) {
			return false
		}
	}
	return true
}

// TestVideoReuseTop: a Constrained Baseline source at the top layer's size
// and rate is measured over its first two keyframe intervals (2 s), then,
// from the keyframe closing them, sent as the top layer byte for byte;
// before that the layer is encoded, and the lower layer is encoded
// throughout. Every source picture is on both layers once, in order.
func TestVideoReuseTop(t *testing.T) {
	src, frames := reuseSource(t, "5", "320x180", baselineArgs...)
	require.Len(t, frames, 150)
	_, got := runReuse(t, src, frames, 30, nil)
	require.Len(t, got[0], 150, "the lower layer: every picture")
	require.Len(t, got[1], 150, "the top layer: every picture")
	for n, f := range got[1] {
		require.Equal(t, frames[n].PTS, f.PTS, "picture %d in order", n)
		if n < 60 {
			require.False(t, sameData(frames[n], f), "picture %d is encoded while the source is measured", n)
			continue
		}
		require.True(t, sameData(frames[n], f), "picture %d is the source's own frame", n)
		require.Equal(t, frames[n].Key, f.Key)
		require.Equal(t, 1, f.Track.ID, "the layer's track")
	}
	for n, f := range got[0] {
		require.False(t, sameData(frames[n], f), "the lower layer is encoded")
	}
}

// TestVideoReuseTopNot: sources that must not be forwarded, each encoded on
// every layer: another size than the top layer's, a profile other than
// Constrained Baseline (Main, without B-frames), a faster frame rate than
// the cap, a bitrate above twice the layer's, keyframes too far apart.
func TestVideoReuseTopNot(t *testing.T) {
	cases := []struct {
		name    string
		size    string
		maxRate float64
		args    []string
	}{
		{"larger", "640x360", 30, baselineArgs},
		{"main profile", "320x180", 30, []string{"-preset", "veryfast", "-profile:v", "main", "-bf", "0"}},
		{"faster than the cap", "320x180", 25, baselineArgs},
		{"bitrate", "320x180", 30, append([]string{"-b:v", "2M", "-maxrate", "2M", "-bufsize", "2M", "-vf", "noise=alls=40:allf=t"}, baselineArgs...)},
		{"keyframes 5 s apart", "320x180", 30, append([]string{"-g", "150", "-keyint_min", "150"}, baselineArgs...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, frames := reuseSource(t, "6", c.size, c.args...)
			v, got := runReuse(t, src, frames, c.maxRate, nil)
			require.Zero(t, v.forwarded, "nothing forwarded")
			require.NotEmpty(t, got[1])
			for _, f := range got[1] {
				for _, s := range frames {
					require.False(t, sameData(s, f), "the top layer is encoded")
				}
			}
		})
	}
}

// TestVideoReuseTopFallback: a forwarded source that changes to another
// size (or profile) at a keyframe makes the top layer encoded again from
// that keyframe on, for good: the first picture after the change is an
// encoded keyframe of the layer's box, and no picture is missing or
// repeated.
func TestVideoReuseTopFallback(t *testing.T) {
	for _, c := range []struct {
		name string
		size string
		args []string
	}{
		{"size", "640x360", baselineArgs},
		{"profile", "320x180", []string{"-preset", "veryfast", "-profile:v", "high", "-bf", "2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, first := reuseSource(t, "4", "320x180", baselineArgs...)
			_, second := reuseSource(t, "2", c.size, c.args...)
			frames := append([]*media.Frame{}, first...)
			shift := first[len(first)-1].PTS + 3000
			for _, f := range second {
				g := *f
				g.PTS += shift
				g.DTS += shift
				frames = append(frames, &g)
			}
			_, got := runReuse(t, src, frames, 30, nil)
			require.Len(t, got[1], len(frames))
			pts := make([]int64, len(frames)) // presentation order
			for n, f := range frames {
				pts[n] = f.PTS
			}
			slices.Sort(pts)
			for n, f := range got[1] {
				require.Equal(t, pts[n], f.PTS, "picture %d in order, none missing", n)
				switch {
				case n >= 60 && n < 120:
					require.True(t, sameData(frames[n], f), "picture %d forwarded", n)
				case n == 120:
					require.True(t, f.Key, "the first picture after the change is a keyframe")
					fallthrough
				default:
					require.False(t, sameData(frames[n], f), "picture %d encoded", n)
				}
			}
		})
	}
}

// TestVideoReuseTopRests: with the top layer forwarded, the source is
// still decoded while that layer is watched and the lower one is not (a
// viewer moving down gets it at once); when nobody watches either, the
// decoder stops and the forwarded frames go on.
func TestVideoReuseTopRests(t *testing.T) {
	src, frames := reuseSource(t, "5", "320x180", baselineArgs...)
	var decodes atomic.Int64
	v, got := runReuse(t, src, frames, 30, func(v *Video, n int, out *layerOut) {
		if n == 0 {
			v.testHookDecode = func() { decodes.Add(1) }
			v.SetLayerActive(0, false) // nobody on the lower layer
		}
		if n == 90 {
			deadline := time.Now().Add(20 * time.Second)
			for {
				out.mu.Lock()
				done := len(out.frames[1]) >= 90
				out.mu.Unlock()
				if done {
					break
				}
				require.True(t, time.Now().Before(deadline), "90 pictures out before the pause")
				time.Sleep(5 * time.Millisecond)
			}
			v.SetLayerActive(1, false) // dynacast: nobody on HIGH either; a forwarded layer flows regardless
		}
	})
	require.Equal(t, int64(90), decodes.Load(), "decoded: the first 90 frames only")
	require.Equal(t, int64(60), v.idle.Load())
	require.Len(t, got[1], 150)
	for n := 60; n < 150; n++ {
		require.True(t, sameData(frames[n], got[1][n]), "picture %d forwarded", n)
	}
	require.Empty(t, got[0])
}

// TestReuseGateKeyInterval: while forwarded, a source that goes longer than
// reuseMaxKeyInterval without a keyframe is encoded again at once when the
// decoder is current, and from its next keyframe when the decoder rests.
func TestReuseGateKeyInterval(t *testing.T) {
	src, frames := reuseSource(t, "3", "320x180", baselineArgs...)
	for _, decoding := range []bool{true, false} {
		g := newReuseGate(src, media.CodecH264, reuseLayers[1], 30)
		for _, f := range frames[:61] {
			g.observe(f, decoding)
		}
		require.True(t, g.forwarding())
		late := *frames[61]
		late.PTS = frames[60].PTS + int64((reuseMaxKeyInterval+time.Second).Seconds()*float64(src.ClockRate))
		fwd, changed := g.observe(&late, decoding)
		require.True(t, changed)
		require.Contains(t, g.reason, "no source keyframe")
		require.Equal(t, !decoding, fwd, "decoding %v", decoding)
		if !decoding {
			key := *frames[30]
			key.PTS = late.PTS + 3000
			fwd, _ = g.observe(&key, false)
			require.False(t, fwd, "encoded from the next keyframe")
		}
	}
}

// vp8Frame is a VP8 frame of n bytes: a keyframe of w×h (frame tag, start
// code, size) or an interframe.
func vp8Frame(tr *media.Track, pts int64, key bool, w, h, n int) *media.Frame {
	b := make([]byte, n)
	b[0] = 0x01 // interframe
	if key {
		b[0] = 0x00
		copy(b[3:], []byte{0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8)})
	}
	return &media.Frame{Track: tr, PTS: pts, DTS: pts, Key: key, Data: [][]byte{b}}
}

// TestReuseGateVP8: a VP8 source of the top layer's size is forwarded from
// the keyframe that closes 2 s of measurement, and a keyframe of another
// size ends the forwarding at once (the decoder being current); a source
// of another size or above twice the layer's bitrate never starts.
func TestReuseGateVP8(t *testing.T) {
	tr := &media.Track{Kind: media.KindVideo, Codec: media.CodecVP8, ClockRate: 90000, Width: 320, Height: 180}
	top := LayerTarget{320, 180, 600_000}
	run := func(w, h, bytes int) (*reuseGate, []bool) {
		g := newReuseGate(tr, media.CodecVP8, top, 30)
		var fwd []bool
		for n := range 150 {
			f, _ := g.observe(vp8Frame(tr, int64(n)*3000, n%30 == 0, w, h, bytes), true)
			fwd = append(fwd, f)
		}
		return g, fwd
	}
	g, fwd := run(320, 180, 2000) // 480 kbps
	for n, f := range fwd {
		require.Equal(t, n >= 60, f, "frame %d", n)
	}
	f, changed := g.observe(vp8Frame(tr, 150*3000, true, 640, 360, 2000), true)
	require.False(t, f)
	require.True(t, changed)
	require.Contains(t, g.reason, "640x360")
	f, _ = g.observe(vp8Frame(tr, 180*3000, true, 320, 180, 2000), true)
	require.False(t, f, "encoded for good")

	g, fwd = run(640, 360, 2000)
	require.NotContains(t, fwd, true)
	require.Contains(t, g.reason, "640x360")
	g, fwd = run(320, 180, 6000) // 1.44 Mbps > 2 × 600 kbps
	require.NotContains(t, fwd, true)
	require.Contains(t, g.reason, "kbps")

	require.Nil(t, newReuseGate(tr, media.CodecH264, top, 30), "VP8 is not reused as H.264")
}
