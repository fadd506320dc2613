//go:build cgo

package ffi

import (
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// resampleSine feeds 2 s of a 44.1 kHz stereo FLTP sine, in 1024-sample
// frames like AAC, through r, and hands every non-empty output to fn.
func resampleSine(t testing.TB, r *Resampler, fn func(out []byte)) {
	t.Helper()
	const rate, total, chunk = 44100, 2 * 44100, 1024
	for off := 0; off < total; off += chunk {
		f := sineFrame(t, rate, 2, min(chunk, total-off), off)
		out, err := r.Resample(f)
		f.Release()
		require.NoError(t, err)
		if len(out) > 0 {
			fn(out)
		}
	}
	out, err := r.Flush()
	require.NoError(t, err)
	if len(out) > 0 {
		fn(out)
	}
}

func TestResampler44100To48000(t *testing.T) {
	r, err := NewResampler(48000, 2, SampleFormatS16)
	require.NoError(t, err)
	defer r.Close()
	samples := 0
	var peak int16
	resampleSine(t, r, func(out []byte) {
		require.Zero(t, len(out)%4)
		samples += len(out) / 4
		for i := 0; i+1 < len(out); i += 2 {
			peak = max(peak, int16(binary.LittleEndian.Uint16(out[i:])))
		}
	})
	t.Logf("44.1 kHz -> 48 kHz over 2 s: %d samples (expected 96000), peak %d", samples, peak)
	// Within ±1 frame of 1024 input samples (1115 output samples).
	require.InDelta(t, 96000, samples, 1115)
	require.InDelta(t, 0.5*32767, float64(peak), 0.05*32767, "amplitude preserved")
}

func TestResamplerFormatChange(t *testing.T) {
	r, err := NewResampler(48000, 1, SampleFormatFLT)
	require.NoError(t, err)
	defer r.Close()
	samples := 0
	for _, rate := range []int{44100, 48000, 32000} {
		for i := 0; i < 10; i++ {
			f := sineFrame(t, rate, 2, rate/10, i*rate/10)
			out, err := r.Resample(f)
			f.Release()
			require.NoError(t, err)
			samples += len(out) / 4
		}
	}
	out, err := r.Flush()
	require.NoError(t, err)
	samples += len(out) / 4
	// 3 s of input whatever the rate; nothing lost or duplicated at the
	// switches beyond filter rounding.
	require.InDelta(t, 3*48000, samples, 48)
}

func TestOpusEncodeFrom44100(t *testing.T) {
	r, err := NewResampler(48000, 2, SampleFormatS16)
	require.NoError(t, err)
	defer r.Close()
	enc, err := NewOpusEncoder(OpusEncoderConfig{Channels: 2, Bitrate: 64000})
	require.NoError(t, err)
	defer enc.Close()
	require.Equal(t, 312, enc.Lookahead())

	var pkts []Packet
	var in int64
	resampleSine(t, r, func(out []byte) {
		p, err := enc.Encode(out, in)
		require.NoError(t, err)
		pkts = append(pkts, p...)
		in += int64(len(out) / 4)
	})
	p, err := enc.Flush()
	require.NoError(t, err)
	pkts = append(pkts, p...)

	// ceil(96000 / 960) = 100 packets of 20 ms, pts stepping by 960.
	t.Logf("opus: %d input samples at 48 kHz, %d packets", in, len(pkts))
	require.InDelta(t, 100, len(pkts), 1)
	require.Equal(t, int((in+959)/960), len(pkts))
	bytes := 0
	for i, p := range pkts {
		require.Equal(t, int64(i)*960, p.PTS)
		require.True(t, p.Key)
		require.NotEmpty(t, p.Data)
		bytes += len(p.Data)
	}
	kbps := float64(bytes*8) / (float64(len(pkts)) * 0.02) / 1000
	t.Logf("opus bitrate %.1f kbps (target 64)", kbps)

	// Decode the packets back: 960 stereo samples each, with a sine in them.
	dec, err := NewAudioDecoder(CodecOpus, nil, WithAudioParams(48000, 2))
	require.NoError(t, err)
	defer dec.Close()
	decoded := 0
	var energy float64
	for _, p := range pkts {
		frames, err := dec.Decode(p.Data, p.PTS)
		require.NoError(t, err)
		for _, f := range frames {
			require.Equal(t, 48000, f.SampleRate())
			require.Equal(t, 2, f.Channels())
			require.Equal(t, SampleFormatFLTP, f.Format())
			decoded += f.NumSamples()
			for i := 0; i < f.NumSamples(); i += 4 {
				v := math.Float32frombits(binary.LittleEndian.Uint32(f.Planes()[0][i*4:]))
				energy += float64(v * v)
			}
		}
		releaseAudio(frames)
	}
	require.Equal(t, len(pkts)*960, decoded)
	rms := math.Sqrt(energy / float64(decoded/4))
	require.InDelta(t, 0.5/math.Sqrt2, rms, 0.05, "decoded RMS of a 0.5-amplitude sine")
}

func TestOpusEncoderDTX(t *testing.T) {
	enc, err := NewOpusEncoder(OpusEncoderConfig{Channels: 1, Bitrate: 32000, DTX: true, Format: SampleFormatFLT})
	require.NoError(t, err)
	defer enc.Close()
	silence := make([]byte, 960*4*50) // 1 s of float silence
	pkts, err := enc.Encode(silence, 0)
	require.NoError(t, err)
	require.Len(t, pkts, 50)
	tiny := 0
	for _, p := range pkts {
		if len(p.Data) <= 2 {
			tiny++
		}
	}
	t.Logf("DTX: %d of 50 silent packets are <= 2 bytes", tiny)
	require.Greater(t, tiny, 30)

	_, err = enc.Encode(make([]byte, 3), 0)
	require.EqualError(t, err, "opus encoder: 3 bytes is not a whole number of 4-byte samples")
	_, err = NewOpusEncoder(OpusEncoderConfig{Channels: 3})
	require.EqualError(t, err, "opus encoder: 3 channels not supported (want 1 or 2)")
}

func TestAudioDecoderAAC(t *testing.T) {
	path := tempPath(t, "a.aac")
	runFFmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1",
		"-ac", "2", "-c:a", "aac", "-b:a", "128k", "-f", "adts", path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	frames := adtsFrames(t, b)
	require.NotEmpty(t, frames)

	dec, err := NewAudioDecoder(CodecAAC, nil)
	require.NoError(t, err)
	defer dec.Close()
	total := 0
	for i, p := range frames {
		out, err := dec.Decode(p, int64(i)*1024)
		require.NoError(t, err)
		for _, f := range out {
			require.Equal(t, 44100, f.SampleRate())
			require.Equal(t, 2, f.Channels())
			require.Equal(t, SampleFormatFLTP, f.Format())
			require.Len(t, f.Planes(), 2)
			require.Len(t, f.Planes()[0], f.NumSamples()*4)
			total += f.NumSamples()
		}
		releaseAudio(out)
	}
	rest, err := dec.Flush()
	require.NoError(t, err)
	releaseAudio(rest)
	require.Equal(t, len(frames)*1024, total)
}

func TestAudioDecoderOpen(t *testing.T) {
	for _, c := range []Codec{CodecAAC, CodecMP3, CodecFLAC} {
		dec, err := NewAudioDecoder(c, nil)
		require.NoError(t, err, "%s", c)
		dec.Close()
		dec.Close()
	}
	// Vorbis cannot start without its three setup headers.
	_, err := NewAudioDecoder(CodecVorbis, nil)
	require.ErrorContains(t, err, "vorbis decoder: open: ")
	_, err = NewAudioDecoder(CodecH264, nil)
	require.EqualError(t, err, "unsupported codec h264 (not an audio codec)")
}

func BenchmarkOpusEncoder(b *testing.B) {
	enc, err := NewOpusEncoder(OpusEncoderConfig{Channels: 2, Bitrate: 64000})
	require.NoError(b, err)
	defer enc.Close()
	frame := make([]byte, 960*4)
	for i := 0; i < 960; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/48000))
		binary.LittleEndian.PutUint16(frame[i*4:], uint16(v))
		binary.LittleEndian.PutUint16(frame[i*4+2:], uint16(v))
	}
	b.ReportAllocs()
	var pts int64
	for b.Loop() {
		if _, err := enc.Encode(frame, pts); err != nil {
			b.Fatal(err)
		}
		pts += 960
	}
}
