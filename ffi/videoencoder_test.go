//go:build cgo

package ffi

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// encodeSequence encodes n pattern frames at 30 fps (pts step 3000 in
// 90 kHz), forcing a keyframe before frame forceAt (if >= 0), and returns
// all packets including the flushed ones.
func encodeSequence(t testing.TB, enc *VideoEncoder, w, h, n, forceAt int) []Packet {
	t.Helper()
	frame, err := NewVideoFrame(w, h)
	require.NoError(t, err)
	defer frame.Release()
	var pkts []Packet
	for i := 0; i < n; i++ {
		fillPattern(t, frame, i)
		frame.PTS = int64(i) * 3000
		if i == forceAt {
			enc.ForceKeyframe()
		}
		p, err := enc.Encode(frame)
		require.NoError(t, err)
		pkts = append(pkts, p...)
	}
	p, err := enc.Flush()
	require.NoError(t, err)
	return append(pkts, p...)
}

// decodePackets decodes packets with a fresh decoder and returns the frames.
func decodePackets(t testing.TB, codec Codec, pkts []Packet) []*VideoFrame {
	t.Helper()
	dec, err := NewVideoDecoder(codec, nil)
	require.NoError(t, err)
	defer dec.Close()
	var got []*VideoFrame
	for _, p := range pkts {
		frames, err := dec.Decode(p.Data, p.PTS)
		require.NoError(t, err)
		got = append(got, frames...)
	}
	rest, err := dec.Flush()
	require.NoError(t, err)
	return append(got, rest...)
}

func keyIndexes(pkts []Packet) []int {
	var keys []int
	for i, p := range pkts {
		if p.Key {
			keys = append(keys, i)
		}
	}
	return keys
}

func bitrateKbps(pkts []Packet, fps int) float64 {
	total := 0
	for _, p := range pkts {
		total += len(p.Data)
	}
	return float64(total*8) / (float64(len(pkts)) / float64(fps)) / 1000
}

func TestH264EncoderRoundTrip(t *testing.T) {
	const w, h, n, forceAt = 640, 360, 150, 75
	enc, err := NewVideoEncoder(VideoEncoderConfig{
		Codec: CodecH264, Width: w, Height: h, FPS: 30, Bitrate: 800_000, Threads: 1,
	})
	require.NoError(t, err)
	defer enc.Close()
	pkts := encodeSequence(t, enc, w, h, n, forceAt)
	require.Len(t, pkts, n)

	// Keyframes every 60 frames (2 s at 30 fps), plus the forced one, which
	// restarts the interval.
	keys := keyIndexes(pkts)
	require.Equal(t, []int{0, 60, 75, 135}, keys)
	kbps := bitrateKbps(pkts, 30)
	t.Logf("h264 keyframes at %v, %.0f kbps (target 800)", keys, kbps)
	require.InDelta(t, 800, kbps, 800*0.25)

	// No B-frames: dts == pts, in order, unchanged 90 kHz timestamps.
	for i, p := range pkts {
		require.Equal(t, p.PTS, p.DTS, "packet %d", i)
		require.Equal(t, int64(i)*3000, p.PTS, "packet %d", i)
	}

	// Every keyframe carries SPS/PPS in-band; the SPS is constrained
	// baseline: profile_idc 66 with constraint_set1_flag.
	for _, k := range keys {
		var sps []byte
		types := map[byte]bool{}
		for _, nalu := range nalUnits(pkts[k].Data) {
			types[nalu[0]&0x1f] = true
			if nalu[0]&0x1f == 7 {
				sps = nalu
			}
		}
		require.True(t, types[7] && types[8] && types[5], "keyframe %d has SPS, PPS and IDR: %v", k, types)
		require.Equal(t, byte(66), sps[1], "profile_idc")
		require.NotZero(t, sps[2]&0x40, "constraint_set1_flag")
	}

	frames := decodePackets(t, CodecH264, pkts)
	defer releaseVideo(frames)
	require.Len(t, frames, n)
	var decodedKeys []int
	for i, f := range frames {
		require.Equal(t, w, f.Width())
		require.Equal(t, h, f.Height())
		require.Equal(t, int64(i)*3000, f.PTS)
		if f.Key {
			decodedKeys = append(decodedKeys, i)
		}
	}
	require.Equal(t, keys, decodedKeys)
}

func TestVP8EncoderRoundTrip(t *testing.T) {
	const w, h, n, forceAt = 320, 180, 150, 75
	enc, err := NewVideoEncoder(VideoEncoderConfig{
		Codec: CodecVP8, Width: w, Height: h, FPS: 30, Bitrate: 300_000, Threads: 1,
	})
	require.NoError(t, err)
	defer enc.Close()
	pkts := encodeSequence(t, enc, w, h, n, forceAt)
	require.Len(t, pkts, n)
	keys := keyIndexes(pkts)
	kbps := bitrateKbps(pkts, 30)
	t.Logf("vp8 keyframes at %v, %.0f kbps (target 300)", keys, kbps)
	// libvpx keeps its 2 s cadence counted from the previous scheduled
	// keyframe: a forced one does not restart it (x264 does).
	require.Subset(t, keys, []int{0, 60, 75})
	for i := 1; i < len(keys); i++ {
		require.LessOrEqual(t, keys[i]-keys[i-1], 60)
	}
	require.InDelta(t, 300, kbps, 300*0.25)
	for i, p := range pkts {
		require.Equal(t, int64(i)*3000, p.PTS, "packet %d", i)
	}

	frames := decodePackets(t, CodecVP8, pkts)
	defer releaseVideo(frames)
	require.Len(t, frames, n)
	for i, f := range frames {
		require.Equal(t, w, f.Width())
		require.Equal(t, h, f.Height())
		require.Equal(t, int64(i)*3000, f.PTS)
	}
}

func TestVideoEncoderErrors(t *testing.T) {
	_, err := NewVideoEncoder(VideoEncoderConfig{Codec: CodecH264, Width: 641, Height: 360, FPS: 30, Bitrate: 1e6})
	require.EqualError(t, err, "h264 encoder: invalid size 641x360 (must be positive and even)")

	enc, err := NewVideoEncoder(VideoEncoderConfig{Codec: CodecH264, Width: 320, Height: 180, FPS: 30, Bitrate: 1e6, Preset: "nosuchpreset"})
	if err == nil {
		enc.Close()
	}
	require.EqualError(t, err, `h264 encoder: unknown x264 preset "nosuchpreset"`)

	enc, err = NewVideoEncoder(VideoEncoderConfig{Codec: CodecH264, Width: 320, Height: 180, FPS: 30, Bitrate: 1e6})
	require.NoError(t, err)
	f, err := NewVideoFrame(160, 90)
	require.NoError(t, err)
	defer f.Release()
	_, err = enc.Encode(f)
	require.EqualError(t, err, "h264 encoder: frame is 160x90 yuv420p, want 320x180 yuv420p")
	enc.Close()
	enc.Close()
	_, err = enc.Encode(f)
	require.ErrorContains(t, err, "h264 encoder: already closed")
}

func BenchmarkVideoEncoder(b *testing.B) {
	for _, codec := range []Codec{CodecH264, CodecVP8} {
		for _, size := range [][2]int{{1280, 720}, {640, 360}, {320, 180}} {
			w, h := size[0], size[1]
			b.Run(fmt.Sprintf("%s/%dx%d", codec, w, h), func(b *testing.B) {
				enc, err := NewVideoEncoder(VideoEncoderConfig{
					Codec: codec, Width: w, Height: h, FPS: 30, Bitrate: w * h * 2, Threads: 1,
				})
				require.NoError(b, err)
				defer enc.Close()
				// A few distinct pictures, cycled, so the encoder sees motion.
				var frames []*VideoFrame
				for i := 0; i < 8; i++ {
					f, err := NewVideoFrame(w, h)
					require.NoError(b, err)
					fillPattern(b, f, i*3)
					frames = append(frames, f)
				}
				defer releaseVideo(frames)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					f := frames[i%len(frames)]
					f.PTS = int64(i) * 3000
					if _, err := enc.Encode(f); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
