//go:build cgo

package ffi

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoLeak runs the whole chain on thousands of small frames — x264
// encode, decode, scale, and per video frame a 44.1 kHz audio block through
// the resampler and the Opus encoder — and checks that RSS stays flat
// between the 500th and the last frame.
func TestNoLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	const n, w, h = 3000, 160, 90
	enc, err := NewVideoEncoder(VideoEncoderConfig{Codec: CodecH264, Width: w, Height: h, FPS: 30, Bitrate: 200_000, Threads: 1})
	require.NoError(t, err)
	defer enc.Close()
	dec, err := NewVideoDecoder(CodecH264, nil)
	require.NoError(t, err)
	defer dec.Close()
	sc, err := NewScaler(w, h, 80, 44, ScaleBilinear)
	require.NoError(t, err)
	defer sc.Close()
	res, err := NewResampler(48000, 2, SampleFormatS16)
	require.NoError(t, err)
	defer res.Close()
	opus, err := NewOpusEncoder(OpusEncoderConfig{Channels: 2, Bitrate: 64000})
	require.NoError(t, err)
	defer opus.Close()

	src, err := NewVideoFrame(w, h)
	require.NoError(t, err)
	defer src.Release()
	small, err := sc.NewFrame()
	require.NoError(t, err)
	defer small.Release()

	measure := func() int64 {
		runtime.GC()
		debug.FreeOSMemory()
		return rss(t)
	}
	var before int64
	decoded := 0
	var audioPTS int64
	for i := 0; i < n; i++ {
		if i == 500 {
			before = measure()
		}
		if i%500 == 0 && testing.Verbose() {
			t.Logf("frame %d: RSS %.1f MiB", i, mib(measure()))
		}
		fillPattern(t, src, i)
		src.PTS = int64(i) * 3000
		if i%100 == 50 {
			enc.ForceKeyframe()
		}
		pkts, err := enc.Encode(src)
		require.NoError(t, err)
		for _, p := range pkts {
			frames, err := dec.Decode(p.Data, p.PTS)
			require.NoError(t, err)
			for _, f := range frames {
				require.NoError(t, sc.Scale(f, small))
				decoded++
			}
			releaseVideo(frames)
		}

		a := sineFrame(t, 44100, 2, 1470, i*1470)
		out, err := res.Resample(a)
		a.Release()
		require.NoError(t, err)
		_, err = opus.Encode(out, audioPTS)
		require.NoError(t, err)
		audioPTS += int64(len(out) / 4)
	}
	after := measure()
	require.Equal(t, n, decoded)
	growth := after - before
	t.Logf("RSS at frame 500: %.1f MiB, after %d frames: %.1f MiB (growth %+.2f MiB)",
		mib(before), n, mib(after), mib(growth))
	// A leak of one 160x90 frame (21 KiB) per frame would be 52 MiB here;
	// without -race RSS is flat to within ~0.1 MiB. The race runtime's own
	// metadata grows by a few MiB over the run, hence its larger allowance.
	limit := int64(4 << 20)
	if raceEnabled {
		limit = 12 << 20
	}
	require.Less(t, growth, limit, "RSS grew by %s", fmt.Sprintf("%.2f MiB", mib(growth)))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func sizeName(s [2]int) string { return fmt.Sprintf("%dx%d", s[0], s[1]) }
