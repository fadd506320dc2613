package transcode

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/media"
)

// TestVideoResolutionChange feeds one stream whose resolution changes
// twice, as a browser ramping up or an encoder changing its canvas does:
// 320x180, then 960x540, then 640x480 (4:3). The layers (boxes 320x180,
// 640x360, 1280x720) follow: first only LOW runs (it covers the source;
// the others would be upscaled copies), then all three with HIGH at the
// source's 960x540, then all three at 4:3 inside their boxes. Every
// output is decoded: each picture has its layer's size at that time, and
// each size change starts with a keyframe a new decoder can start from.
func TestVideoResolutionChange(t *testing.T) {
	type segment struct {
		size  string
		want  [3]string // per layer; "" = no output
		count int
	}
	segs := []segment{
		{"320x180", [3]string{"320x180", "", ""}, 60},
		{"960x540", [3]string{"320x180", "640x360", "960x540"}, 60},
		{"640x480", [3]string{"240x180", "480x360", "640x480"}, 60},
	}
	var stream []*media.Frame
	var first *media.Track
	offset := int64(0)
	for _, sg := range segs {
		path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size="+sg.size+":rate=30", "-t", "2",
			"-c:v", "libx264", "-bf", "0", "-g", "300", "-pix_fmt", "yuv420p")
		vtrack, _, frames := readFLV(t, path)
		if first == nil {
			first = vtrack
		}
		var last int64
		for _, f := range frames {
			if f.Track.Kind != media.KindVideo {
				continue
			}
			g := *withParams(t, vtrack, f)
			g.PTS += offset
			g.DTS += offset
			g.Track = first // one track: the change is in band
			stream = append(stream, &g)
			last = g.PTS
		}
		offset = last + 3000
	}

	layers := []LayerTarget{{320, 180, 200_000}, {640, 360, 500_000}, {1280, 720, 1_500_000}}
	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: first, Codec: media.CodecH264, MaxFrameRate: 30, Layers: layers, Output: out.add, Blocking: true})
	require.NoError(t, err)
	for _, f := range stream {
		require.NoError(t, v.Write(f))
	}
	require.NoError(t, v.Close())

	for i := range layers {
		// The sizes this layer should show, segment by segment.
		var want []string
		total, run, runSize := 0, 0, ""
		for _, sg := range segs {
			if sg.want[i] == "" {
				continue
			}
			if sg.want[i] != runSize && run > 0 {
				want = append(want, fmt.Sprintf("%s×%d", runSize, run))
				run = 0
			}
			runSize = sg.want[i]
			run += sg.count
			total += sg.count
		}
		want = append(want, fmt.Sprintf("%s×%d", runSize, run))
		got := out.frames[i]
		require.Len(t, got, total, "layer %d: pictures", i)
		dec, err := ffi.NewVideoDecoder(ffi.CodecH264, nil)
		require.NoError(t, err)
		var runs []string
		size, n := "", 0
		for k, f := range got {
			pics, err := dec.Decode(h264.JoinAnnexB(f.Data), f.PTS)
			require.NoError(t, err)
			require.Len(t, pics, 1, "layer %d picture %d decodes", i, k)
			s := fmt.Sprintf("%dx%d", pics[0].Width(), pics[0].Height())
			require.Equal(t, s, fmt.Sprintf("%dx%d", f.Track.Width, f.Track.Height), "the frame's track has the picture's size")
			pics[0].Release()
			if s != size {
				require.True(t, f.Key, "layer %d: the first %s picture is a keyframe", i, s)
				if size != "" {
					runs = append(runs, fmt.Sprintf("%s×%d", size, n))
				}
				size, n = s, 0
			}
			n++
		}
		runs = append(runs, fmt.Sprintf("%s×%d", size, n))
		dec.Close()
		require.Equal(t, want, runs, "layer %d sizes over time", i)
	}
}

// TestVideoLiveBurst: a live input that delivers in bursts (an MPEG-TS
// muxer over SRT sends ~0.7 s of frames at once, then nothing) loses no
// picture while the machine keeps up on average: the burst waits in the
// decode queue instead of overflowing the layers' picture queues (it
// lost a fifth of the pictures of every layer before).
func TestVideoLiveBurst(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "4",
		"-c:v", "libx264", "-bf", "0", "-g", "60", "-pix_fmt", "yuv420p")
	vtrack, _, frames := readFLV(t, path)
	layers := []LayerTarget{{160, 90, 100_000}, {320, 180, 200_000}, {640, 360, 500_000}}
	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, MaxFrameRate: 30, Layers: layers, Output: out.add})
	require.NoError(t, err)
	n := 0
	for i, f := range frames {
		if f.Track.Kind != media.KindVideo {
			continue
		}
		require.NoError(t, v.Write(withParams(t, vtrack, f)))
		n++
		if n%21 == 0 && i < len(frames)-1 {
			time.Sleep(700 * time.Millisecond) // 21 frames at once, then the muxer's pause
		}
	}
	require.NoError(t, v.Close())
	in, per := v.Dropped()
	require.Zero(t, in)
	require.Equal(t, []int64{0, 0, 0}, per, "no picture dropped")
	for i := range layers {
		require.Len(t, out.frames[i], n, "layer %d", i)
	}
}

// TestVideoTooLarge: a source whose declared size is beyond what the
// decoder accepts is refused at once, with the sizes in the reason.
func TestVideoTooLarge(t *testing.T) {
	_, err := NewVideo(VideoConfig{
		Source: &media.Track{Kind: media.KindVideo, Codec: media.CodecH264, ClockRate: 90000, Width: 8192, Height: 4320},
		Codec:  media.CodecH264, Layers: []LayerTarget{{1280, 720, 1_000_000}}, Output: func(int, *media.Frame) {},
	})
	require.ErrorContains(t, err, "the source is 8192x4320, larger than the largest picture Tributary decodes")
}
