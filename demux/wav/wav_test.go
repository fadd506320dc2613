package wav

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

func demuxBytes(in []byte) (*demuxtest.Collector, error) {
	c := &demuxtest.Collector{}
	return c, demuxtest.RunBytes(&Demuxer{OnTrack: c.OnTrackOnce, OnFrame: c.OnFrameAfterTrack}, in)
}

// crossings counts the rising zero crossings of 16-bit little-endian
// samples, on the channel that has the most (ffmpeg puts a mono tone in
// the centre channel of 5.1).
func crossings(pcm []byte, channels int) int {
	most := 0
	for c := range channels {
		n := 0
		prev := int16(0)
		for i := 2 * c; i+1 < len(pcm); i += 2 * channels {
			v := int16(binary.LittleEndian.Uint16(pcm[i:]))
			if prev < 0 && v >= 0 {
				n++
			}
			prev = v
		}
		most = max(most, n)
	}
	return most
}

// cases are ffmpeg's files (testdata/gen.sh): 0.1 s of a 440 Hz tone,
// five frames of 20 ms.
var cases = []demuxtest.FileCase{
	{Name: "s16_stereo.wav", File: "s16_stereo.wav", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecPCM, 44100, 2, 5)}},
	{Name: "u8.wav", File: "u8.wav", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecPCM, 44100, 1, 5)}},
	{Name: "s24.wav", File: "s24.wav", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecPCM, 44100, 2, 5)}},
	{Name: "f32.wav", File: "f32.wav", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecPCM, 44100, 1, 5)}},
	{Name: "surround.wav", File: "surround.wav", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecPCM, 44100, 6, 5)}},
	{Name: "piped.wav", File: "piped.wav", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecPCM, 44100, 1, 5)}},
	{Name: "alaw.wav", File: "alaw.wav", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecPCMA, 8000, 1, 5)}},
	{Name: "mulaw.wav", File: "mulaw.wav", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecPCMU, 8000, 1, 5)}},
}

func TestFiles(t *testing.T) {
	demuxtest.RunFileCases(t, cases, demuxBytes, func(t *testing.T, _ demuxtest.FileCase, _ []byte, r *demuxtest.Collector) {
		tr := r.Tracks[0]
		var all []byte
		var pts int64
		for i, f := range r.Frames {
			require.Equal(t, pts, f.PTS, "frame %d", i)
			require.True(t, f.Key)
			require.Len(t, f.Data, 1)
			all = append(all, f.Data[0]...)
			perSample := 2 * tr.Channels
			if tr.Codec != media.CodecPCM {
				perSample = tr.Channels
			}
			require.Zero(t, len(f.Data[0])%perSample)
			require.LessOrEqual(t, len(f.Data[0])/perSample, tr.SampleRate/50, "20 ms frames")
			pts += int64(len(f.Data[0]) / perSample)
		}
		// 0.1 s of samples, all of them.
		require.Equal(t, int64(tr.SampleRate/10), pts)
		if tr.Codec == media.CodecPCM {
			// 44 periods of 440 Hz in 0.1 s, whatever the layout.
			require.InDelta(t, 44, crossings(all, tr.Channels), 1)
		}
	})
}

func TestRefused(t *testing.T) {
	_, err := demuxBytes(demuxtest.ReadTestdata(t, "adpcm.wav"))
	require.ErrorIs(t, err, demux.ErrUnsupportedCodec)
	require.Contains(t, err.Error(), "WAV format 0x0002")

	in := demuxtest.ReadTestdata(t, "s16_stereo.wav")
	_, err = demuxBytes(in[:30])
	require.ErrorIs(t, err, demux.ErrTruncated)
	_, err = demuxBytes([]byte("RIFF\x00\x00\x00\x00AVI LIST"))
	require.ErrorIs(t, err, demux.ErrMalformed)
	// A chunk before the data larger than MaxHeaderBytes.
	big := append(bytes.Clone(in[:12]), []byte("JUNK\x00\x00\x20\x00")...)
	_, err = demuxBytes(append(big, make([]byte, 4096)...))
	require.ErrorIs(t, err, demux.ErrMalformed)
	// Channels beyond the bound.
	bad := bytes.Clone(in)
	binary.LittleEndian.PutUint16(bad[22:], 9)
	_, err = demuxBytes(bad)
	require.ErrorIs(t, err, demux.ErrMalformed)
}

// FuzzDemuxer feeds WAV streams through Run, seeded with the start of every
// case of the table and of the refused ADPCM file.
func FuzzDemuxer(f *testing.F) {
	demuxtest.SeedFuzz(f, cases, demuxtest.Prefix(2048))
	f.Add(demuxtest.ReadTestdata(f, "adpcm.wav")[:2048])
	f.Fuzz(func(t *testing.T, in []byte) {
		r := demuxtest.FuzzOne(t, in, demuxBytes)
		require.LessOrEqual(t, len(r.Tracks), 1)
		total := 0
		for _, fr := range r.Frames {
			require.Len(t, fr.Data, 1)
			total += len(fr.Data[0])
		}
		// 8-bit samples double in size at most.
		require.LessOrEqual(t, total, 2*len(in))
		for _, tr := range r.Tracks {
			require.Positive(t, tr.ClockRate)
			require.LessOrEqual(t, tr.ClockRate, MaxSampleRate)
			require.Positive(t, tr.Channels)
			require.LessOrEqual(t, tr.Channels, MaxChannels)
		}
	})
}
