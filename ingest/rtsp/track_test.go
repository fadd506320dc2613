package rtsp

import (
	"bytes"
	"os"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/media"
)

// feed hands packets to a track at consecutive sequence numbers, each at
// its given PTS.
func feed(t *testing.T, tr *track, sink Sink, payloads [][]byte, pts []int64) {
	t.Helper()
	for i, p := range payloads {
		pkt := &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(100 + i), Marker: true}, Payload: p}
		require.NoError(t, tr.handle(pkt, pts[i], sink))
	}
}

// TestG711Track: PCMA and PCMU packets become frames of their samples as
// sent, on a track of the SDP's rate and channels.
func TestG711Track(t *testing.T) {
	for _, mulaw := range []bool{false, true} {
		tr, err := newTrack(&format.G711{PayloadTyp: 8, MULaw: mulaw, SampleRate: 8000, ChannelCount: 1})
		require.NoError(t, err)
		sink := newRecordSink(1)
		a, b := bytes.Repeat([]byte{0xd5}, 160), bytes.Repeat([]byte{0x55}, 160)
		feed(t, tr, sink, [][]byte{a, b}, []int64{0, 160})
		require.Len(t, sink.tracks, 1)
		want := media.CodecPCMA
		if mulaw {
			want = media.CodecPCMU
		}
		require.Equal(t, want, sink.tracks[0].Codec)
		require.Equal(t, 8000, sink.tracks[0].SampleRate)
		require.Equal(t, 8000, sink.tracks[0].ClockRate)
		require.Equal(t, 1, sink.tracks[0].Channels)
		frames := sink.frames[media.KindAudio]
		require.Len(t, frames, 2)
		require.Equal(t, [][]byte{a}, frames[0].Data)
		require.Equal(t, int64(160), frames[1].PTS)
	}
	_, err := newTrack(&format.G711{PayloadTyp: 96, SampleRate: 8000, ChannelCount: 100})
	require.Error(t, err, "channels beyond the bound")
}

// TestLPCMTrack: L16 (big-endian) arrives as 16-bit little-endian PCM.
func TestLPCMTrack(t *testing.T) {
	tr, err := newTrack(&format.LPCM{PayloadTyp: 96, BitDepth: 16, SampleRate: 48000, ChannelCount: 2})
	require.NoError(t, err)
	sink := newRecordSink(1)
	feed(t, tr, sink, [][]byte{{0x12, 0x34, 0xff, 0xfe}}, []int64{0})
	require.Equal(t, media.CodecPCM, sink.tracks[0].Codec)
	require.Equal(t, [][]byte{{0x34, 0x12, 0xfe, 0xff}}, sink.frames[media.KindAudio][0].Data)
}

// TestLATMTrack: MP4A-LATM with the configuration in the SDP (cpresent=0,
// as ffmpeg sends it) and in band (cpresent=1, a 90 kHz clock) gives the
// AAC frames and the AudioSpecificConfig.
func TestLATMTrack(t *testing.T) {
	loas, err := os.ReadFile("../../codec/aac/testdata/tone.loas")
	require.NoError(t, err)
	elems, err := aac.SplitLOAS(loas)
	require.NoError(t, err)
	adts, err := os.ReadFile("../../codec/aac/testdata/tone.adts")
	require.NoError(t, err)
	want, _, err := aac.SplitADTS(adts)
	require.NoError(t, err)

	t.Run("config in band", func(t *testing.T) {
		tr, err := newTrack(&format.MPEG4AudioLATM{PayloadTyp: 96, CPresent: true})
		require.NoError(t, err)
		sink := newRecordSink(1)
		pts := make([]int64, len(elems))
		for i := range pts {
			pts[i] = int64(i) * 1920 // 1024 samples at 48 kHz in 90 kHz ticks
		}
		feed(t, tr, sink, elems, pts)
		require.Len(t, sink.tracks, 1)
		at := sink.tracks[0]
		require.Equal(t, media.CodecAAC, at.Codec)
		require.Equal(t, 48000, at.SampleRate)
		require.Equal(t, 90000, at.ClockRate)
		require.Equal(t, 2, at.Channels)
		conf, err := aac.ParseConfig(at.Config)
		require.NoError(t, err)
		require.Equal(t, aac.ObjectTypeLC, conf.ObjectType)
		var got [][]byte
		for _, f := range sink.frames[media.KindAudio] {
			got = append(got, f.Data[0])
		}
		require.Equal(t, want, got)
	})

	t.Run("config in the SDP", func(t *testing.T) {
		smc := &mpeg4audio.StreamMuxConfig{Programs: []*mpeg4audio.StreamMuxConfigProgram{{
			Layers: []*mpeg4audio.StreamMuxConfigLayer{{
				AudioSpecificConfig: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2},
				LatmBufferFullness:  255,
			}},
		}}}
		tr, err := newTrack(&format.MPEG4AudioLATM{PayloadTyp: 96, StreamMuxConfig: smc})
		require.NoError(t, err)
		sink := newRecordSink(1)
		var payloads [][]byte
		var pts []int64
		for i, f := range want {
			n := len(f)
			var p []byte
			for ; n >= 255; n -= 255 {
				p = append(p, 255)
			}
			payloads = append(payloads, append(append(p, byte(n)), f...))
			pts = append(pts, int64(i)*1024)
		}
		feed(t, tr, sink, payloads, pts)
		require.Len(t, sink.tracks, 1)
		require.Equal(t, 48000, sink.tracks[0].ClockRate)
		frames := sink.frames[media.KindAudio]
		require.Len(t, frames, len(want))
		for i, f := range frames {
			require.Equal(t, want[i], f.Data[0])
			require.Equal(t, int64(i)*1024, f.PTS)
		}
	})

	_, err = newTrack(&format.MPEG4AudioLATM{PayloadTyp: 96, StreamMuxConfig: &mpeg4audio.StreamMuxConfig{}})
	require.Error(t, err, "a configuration without program")
}
