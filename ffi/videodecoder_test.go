//go:build cgo

package ffi

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// TestVideoDecoderH264HighBFrames decodes a real H.264 High-profile stream
// with B-frames, fed access unit by access unit in decode order with the
// container's pts, and checks that the decoder hands frames back in
// presentation order with their own pts.
func TestVideoDecoderH264HighBFrames(t *testing.T) {
	ts := tempPath(t, "high.ts")
	raw := tempPath(t, "high.h264")
	runFFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "2",
		"-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-x264-params", "aud=1", ts)
	runFFmpeg(t, "-i", ts, "-c", "copy", "-f", "h264", raw)
	stream, err := os.ReadFile(raw)
	require.NoError(t, err)

	aus := accessUnits(stream, isH264AUD)
	pts := probePTS(t, ts)
	require.Len(t, aus, 60)
	require.Len(t, pts, 60)
	require.False(t, sortedInt64(pts), "the stream must have B-frames (pts out of decode order)")

	dec, err := NewVideoDecoder(CodecH264, nil)
	require.NoError(t, err)
	defer dec.Close()

	var got []*VideoFrame
	for i, au := range aus {
		frames, err := dec.Decode(au, pts[i])
		require.NoError(t, err, "access unit %d", i)
		got = append(got, frames...)
	}
	rest, err := dec.Flush()
	require.NoError(t, err)
	got = append(got, rest...)
	defer releaseVideo(got)

	require.Len(t, got, 60)
	var out []int64
	for _, f := range got {
		require.Equal(t, 640, f.Width())
		require.Equal(t, 360, f.Height())
		require.Equal(t, "yuv420p", f.Format())
		p := f.Planes()
		require.Len(t, p[0], 360*f.Strides()[0])
		require.Len(t, p[1], 180*f.Strides()[1])
		out = append(out, f.PTS)
	}
	require.True(t, got[0].Key)
	require.True(t, strictlyIncreasing(out), "pts after reorder: %v", out)
	require.ElementsMatch(t, pts, out)
}

func sortedInt64(v []int64) bool {
	for i := 1; i < len(v); i++ {
		if v[i] < v[i-1] {
			return false
		}
	}
	return true
}

func strictlyIncreasing(v []int64) bool {
	for i := 1; i < len(v); i++ {
		if v[i] <= v[i-1] {
			return false
		}
	}
	return true
}

// TestVideoDecoderCodecs decodes a few frames of every other video codec,
// made by the ffmpeg CLI.
func TestVideoDecoderCodecs(t *testing.T) {
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30", "-frames:v", "10"}
	cases := []struct {
		name  string
		codec Codec
		args  []string
		file  string
	}{
		{"hevc", CodecHEVC, []string{"-c:v", "libx265", "-x265-params", "aud=1:bframes=0:log-level=error", "-f", "hevc"}, "v.hevc"},
		{"vp8", CodecVP8, []string{"-c:v", "libvpx", "-f", "ivf"}, "v.ivf"},
		{"vp9", CodecVP9, []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-f", "ivf"}, "v.ivf"},
		{"av1", CodecAV1, []string{"-c:v", "libaom-av1", "-cpu-used", "8", "-usage", "realtime", "-f", "ivf"}, "v.ivf"},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			path := tempPath(t, ca.file)
			runFFmpeg(t, append(append(append([]string{}, src...), ca.args...), path)...)
			var units [][]byte
			if ca.codec == CodecHEVC {
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				units = accessUnits(b, isHEVCAUD)
			} else {
				units = testutil.IVFFile(t, path)
			}
			require.Len(t, units, 10)

			dec, err := NewVideoDecoder(ca.codec, nil)
			require.NoError(t, err)
			defer dec.Close()
			var got []*VideoFrame
			for i, u := range units {
				frames, err := dec.Decode(u, int64(i)*3000)
				require.NoError(t, err)
				got = append(got, frames...)
			}
			rest, err := dec.Flush()
			require.NoError(t, err)
			got = append(got, rest...)
			defer releaseVideo(got)
			require.Len(t, got, 10)
			for i, f := range got {
				require.Equal(t, 160, f.Width())
				require.Equal(t, 90, f.Height())
				require.Equal(t, int64(i)*3000, f.PTS)
			}
		})
	}
}

func TestVideoDecoderErrors(t *testing.T) {
	t.Run("garbage h264", func(t *testing.T) {
		dec, err := NewVideoDecoder(CodecH264, nil)
		require.NoError(t, err)
		defer dec.Close()
		garbage := append([]byte{0, 0, 0, 1, 0x65}, bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 256)...)
		var errs []error
		for i := 0; i < 5; i++ {
			frames, err := dec.Decode(garbage, int64(i))
			releaseVideo(frames)
			require.Empty(t, frames)
			if err != nil {
				errs = append(errs, err)
			}
		}
		frames, err := dec.Flush()
		releaseVideo(frames)
		require.Empty(t, frames)
		if err != nil {
			errs = append(errs, err)
		}
		for _, err := range errs {
			require.Contains(t, err.Error(), "h264 decoder: ")
		}
		t.Logf("errors from garbage: %v", errs)
	})

	t.Run("unsupported codec", func(t *testing.T) {
		_, err := NewVideoDecoder(Codec(99), nil)
		require.True(t, errors.Is(err, ErrUnsupportedCodec))
		require.EqualError(t, err, "unsupported codec codec(99) (not a video codec)")

		_, err = NewVideoDecoder(CodecAAC, nil)
		require.EqualError(t, err, "unsupported codec aac (not a video codec)")

		_, err = NewVideoEncoder(VideoEncoderConfig{Codec: CodecHEVC, Width: 64, Height: 64, FPS: 30, Bitrate: 1e5})
		require.True(t, errors.Is(err, ErrUnsupportedCodec))
		require.Contains(t, err.Error(), "unsupported codec hevc")
	})

	t.Run("close is idempotent", func(t *testing.T) {
		dec, err := NewVideoDecoder(CodecVP8, nil)
		require.NoError(t, err)
		dec.Close()
		dec.Close()
		_, err = dec.Decode([]byte{1, 2, 3}, 0)
		require.ErrorContains(t, err, "vp8 decoder: already closed")
	})
}

func BenchmarkVideoDecoder(b *testing.B) {
	for _, size := range [][2]int{{1280, 720}, {640, 360}, {320, 180}} {
		w, h := size[0], size[1]
		b.Run("h264/"+sizeName(size), func(b *testing.B) {
			enc, err := NewVideoEncoder(VideoEncoderConfig{Codec: CodecH264, Width: w, Height: h, FPS: 30, Bitrate: w * h * 2})
			require.NoError(b, err)
			pkts := encodeSequence(b, enc, w, h, 60, -1) // one GOP, cycled
			enc.Close()
			dec, err := NewVideoDecoder(CodecH264, nil, WithThreads(1))
			require.NoError(b, err)
			defer dec.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				frames, err := dec.Decode(pkts[i%len(pkts)].Data, int64(i)*3000)
				if err != nil {
					b.Fatal(err)
				}
				releaseVideo(frames)
				i++
			}
		})
	}
}

// TestVideoDecoderMaxPixels: a stream whose pictures are larger than
// MaxPixels (4608x2592 here) is refused with an error naming the size,
// instead of being decoded at whatever size its SPS declares; one at the
// bound decodes.
func TestVideoDecoderMaxPixels(t *testing.T) {
	for _, c := range []struct {
		size string
		ok   bool
	}{{"4096x2304", true}, {"4608x2592", false}} {
		raw := tempPath(t, c.size+".h264")
		runFFmpeg(t, "-f", "lavfi", "-i", "color=c=gray:s="+c.size+":r=30", "-frames:v", "2",
			"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-x264-params", "aud=1", "-f", "h264", raw)
		stream, err := os.ReadFile(raw)
		require.NoError(t, err)
		dec, err := NewVideoDecoder(CodecH264, nil)
		require.NoError(t, err)
		var frames []*VideoFrame
		var last error
		for i, au := range accessUnits(stream, isH264AUD) {
			f, err := dec.Decode(au, int64(i))
			if err != nil {
				last = err
			}
			frames = append(frames, f...)
		}
		f, err := dec.Flush()
		if err == nil {
			frames = append(frames, f...)
		}
		dec.Close()
		if c.ok {
			require.NoError(t, last, c.size)
			require.NotEmpty(t, frames, c.size)
			require.Equal(t, 4096, frames[0].Width())
		} else {
			require.Empty(t, frames, "%s: no picture", c.size)
			require.Error(t, last, c.size)
			t.Logf("%s: %v", c.size, last)
		}
		releaseVideoFrames(frames)
	}
}
