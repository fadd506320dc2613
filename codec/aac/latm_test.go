package aac

import (
	"bytes"
	"os"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/stretchr/testify/require"
)

// adtsFrames returns the raw frames of testdata/tone.adts.
func adtsFrames(t testing.TB) [][]byte {
	data, err := os.ReadFile("testdata/tone.adts")
	require.NoError(t, err)
	frames, _, err := SplitADTS(data)
	require.NoError(t, err)
	return frames
}

// TestLOAS reads ffmpeg's LOAS (configuration in band, repeated) and gets
// the frames of the same encode written as ADTS.
func TestLOAS(t *testing.T) {
	data, err := os.ReadFile("testdata/tone.loas")
	require.NoError(t, err)
	elems, err := SplitLOAS(data)
	require.NoError(t, err)
	want := adtsFrames(t)
	l := &LATM{InBand: true}
	var got [][]byte
	changes := 0
	for _, e := range elems {
		frames, changed, err := l.Decode(e)
		require.NoError(t, err)
		if changed {
			changes++
		}
		got = append(got, frames...)
	}
	require.Equal(t, 1, changes, "one configuration, repeated")
	require.Equal(t, want, got)
	asc, conf := l.Config()
	require.NotEmpty(t, asc)
	require.Equal(t, 48000, conf.SampleRate)
	require.Equal(t, 2, conf.Channels)
	require.Equal(t, ObjectTypeLC, conf.ObjectType)
	require.Equal(t, 1024, l.SamplesPerFrame())
}

// latmElement writes an element without configuration: PayloadLengthInfo
// and PayloadMux of each subframe.
func latmElement(frames ...[]byte) []byte {
	var b []byte
	for _, f := range frames {
		n := len(f)
		for ; n >= 255; n -= 255 {
			b = append(b, 255)
		}
		b = append(b, byte(n))
		b = append(b, f...)
	}
	return b
}

func outOfBandConfig(subframes uint) *mpeg4audio.StreamMuxConfig {
	return &mpeg4audio.StreamMuxConfig{
		NumSubFrames: subframes,
		Programs: []*mpeg4audio.StreamMuxConfigProgram{{Layers: []*mpeg4audio.StreamMuxConfigLayer{{
			AudioSpecificConfig: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2},
			LatmBufferFullness:  255,
		}}}},
	}
}

// TestLATMOutOfBand reads elements as RTP carries them with cpresent=0.
func TestLATMOutOfBand(t *testing.T) {
	frames := adtsFrames(t)
	l := &LATM{}
	_, _, err := l.Decode(latmElement(frames[0]))
	require.ErrorIs(t, err, ErrNoLATMConfig)
	require.NoError(t, l.SetStreamMuxConfig(outOfBandConfig(0)))
	for _, f := range frames {
		got, changed, err := l.Decode(latmElement(f))
		require.NoError(t, err)
		require.False(t, changed)
		require.Equal(t, [][]byte{f}, got)
	}
	// Two subframes per element, one longer than 255 bytes.
	require.NoError(t, l.SetStreamMuxConfig(outOfBandConfig(1)))
	big := bytes.Repeat([]byte{7}, 600)
	got, _, err := l.Decode(latmElement(frames[1], big))
	require.NoError(t, err)
	require.Equal(t, [][]byte{frames[1], big}, got)
	_, _, err = l.Decode(latmElement(frames[1]))
	require.Error(t, err, "a subframe missing")
	_, _, err = l.Decode(latmElement(big)[:300])
	require.Error(t, err, "a truncated payload")
}

func TestLATMRefused(t *testing.T) {
	c := outOfBandConfig(0)
	c.Programs = append(c.Programs, c.Programs[0])
	require.Error(t, (&LATM{}).SetStreamMuxConfig(c), "two programs")
	c = outOfBandConfig(0)
	c.Programs[0].Layers[0].FrameLengthType = 1
	require.Error(t, (&LATM{}).SetStreamMuxConfig(c), "fixed frame length")
	require.Error(t, (&LATM{}).SetStreamMuxConfig(nil))
	_, err := SplitLOAS([]byte{0x56, 0xe0, 5, 1})
	require.Error(t, err, "a truncated LOAS element")
	_, err = SplitLOAS([]byte{0x55, 0xe0, 0})
	require.Error(t, err, "no sync word")
}

// FuzzLATM feeds LOAS streams (in-band configuration) and, with the
// fuzzer's first byte choosing, elements without configuration.
func FuzzLATM(f *testing.F) {
	data, err := os.ReadFile("testdata/tone.loas")
	require.NoError(f, err)
	f.Add(data[:min(len(data), 1200)])
	f.Add(append([]byte{0xff}, latmElement(adtsFrames(f)[0])...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 0 && in[0] == 0xff {
			l := &LATM{}
			require.NoError(t, l.SetStreamMuxConfig(outOfBandConfig(uint(len(in)%3))))
			frames, _, err := l.Decode(in[1:])
			if err == nil {
				total := 0
				for _, fr := range frames {
					total += len(fr)
				}
				require.LessOrEqual(t, total, len(in))
			}
			return
		}
		elems, err := SplitLOAS(in)
		if err != nil {
			return
		}
		l := &LATM{InBand: true}
		for _, e := range elems {
			frames, changed, err := l.Decode(e)
			if err != nil {
				continue
			}
			if changed {
				asc, conf := l.Config()
				require.NotEmpty(t, asc)
				require.Positive(t, conf.SampleRate)
				require.Positive(t, conf.Channels)
			}
			for _, fr := range frames {
				require.LessOrEqual(t, len(fr), len(e))
			}
		}
	})
}
