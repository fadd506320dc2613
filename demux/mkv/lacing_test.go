package mkv

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// ebmlElement encodes an element with an 8-byte size (or unknown size
// when size < 0 and data is nil).
func ebmlElement(id uint32, data []byte) []byte {
	var out []byte
	for shift := 24; shift >= 0; shift -= 8 {
		if b := byte(id >> shift); b != 0 || len(out) > 0 {
			out = append(out, b)
		}
	}
	n := uint64(len(data))
	out = append(out, 0x01, byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(out, data...)
}

func unknownSizeHeader(id uint32) []byte {
	b := ebmlElement(id, nil)
	copy(b[len(b)-8:], []byte{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// lacedBlock builds a SimpleBlock of track 1 at relative time rel with
// the given lacing of frames.
func lacedBlock(rel int16, lacing byte, frames [][]byte) []byte {
	b := []byte{0x81, byte(uint16(rel) >> 8), byte(rel), flagKeyframe | lacing}
	if lacing != lacingNone {
		b = append(b, byte(len(frames)-1))
	}
	switch lacing {
	case lacingXiph:
		for _, f := range frames[:len(frames)-1] {
			n := len(f)
			for ; n >= 255; n -= 255 {
				b = append(b, 255)
			}
			b = append(b, byte(n))
		}
	case lacingEBML:
		// First size as a 2-byte VINT, then signed 2-byte differences
		// (bias 2^13-1).
		b = append(b, 0x40|byte(len(frames[0])>>8), byte(len(frames[0])))
		for i := 1; i < len(frames)-1; i++ {
			d := len(frames[i]) - len(frames[i-1]) + (1<<13 - 1)
			b = append(b, 0x40|byte(d>>8), byte(d))
		}
	}
	for _, f := range frames {
		b = append(b, f...)
	}
	return ebmlElement(idSimpleBlock, b)
}

// opusStream returns the OpusHead and packets of vp8_opus.webm.
func opusStream(t *testing.T) ([]byte, [][]byte) {
	r, err := demuxBytes(demuxtest.ReadTestdata(t, "vp8_opus.webm"))
	require.NoError(t, err)
	var packets [][]byte
	for _, f := range r.KindFrames(media.KindAudio) {
		packets = append(packets, f.Data[0])
	}
	return r.KindTrack(media.KindAudio).Config, packets
}

// TestLacing builds a live-style stream (unknown-size Segment and
// Cluster) of real Opus packets in blocks with each lacing, and checks
// the frames and their timestamps (20 ms apart).
func TestLacing(t *testing.T) {
	head, packets := opusStream(t)
	// Equal-size packets for fixed lacing.
	fixed := [][]byte{bytes.Repeat([]byte{0xfc, 1}, 40), bytes.Repeat([]byte{0xfc, 2}, 40), bytes.Repeat([]byte{0xfc, 3}, 40)}
	big := append([]byte{0xfc}, bytes.Repeat([]byte{7}, 600)...) // Xiph size over 255
	entry := ebmlElement(idTrackEntry, cat(
		ebmlElement(idTrackNumber, []byte{1}), ebmlElement(idTrackType, []byte{trackTypeAudio}),
		ebmlElement(idCodecID, []byte("A_OPUS")), ebmlElement(idCodecPrivate, head),
		ebmlElement(idAudio, cat(ebmlElement(idChannels, []byte{1}))),
	))
	in := cat(
		ebmlElement(idEBML, ebmlElement(idDocType, []byte("webm"))),
		unknownSizeHeader(idSegment),
		ebmlElement(idTracks, entry),
		unknownSizeHeader(idCluster),
		ebmlElement(idTimestamp, []byte{0}),
		lacedBlock(0, lacingXiph, [][]byte{packets[0], big, packets[2]}),
		lacedBlock(60, lacingEBML, packets[3:7]),
		lacedBlock(140, lacingFixed, fixed),
		unknownSizeHeader(idCluster),
		ebmlElement(idTimestamp, []byte{200}),
		lacedBlock(0, lacingNone, [][]byte{packets[10]}),
	)
	r, err := demuxBytes(in)
	require.NoError(t, err)
	checkInvariants(t, r)
	want := [][]byte{packets[0], big, packets[2], packets[3], packets[4], packets[5], packets[6], fixed[0], fixed[1], fixed[2], packets[10]}
	require.Len(t, r.Frames, len(want))
	for i, f := range r.Frames {
		require.Equal(t, want[i], f.Data[0], "frame %d", i)
		require.Equal(t, int64(i)*960, f.PTS, "frame %d", i)
	}
	require.Equal(t, uint64(2), r.stats.Clusters)
}

func TestLacingErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"xiph overrun":  {0x81, 0, 0, flagKeyframe | lacingXiph, 1, 200, 1, 2},
		"ebml overrun":  {0x81, 0, 0, flagKeyframe | lacingEBML, 1, 0x9f, 1, 2},
		"fixed uneven":  {0x81, 0, 0, flagKeyframe | lacingFixed, 1, 1, 2, 3},
		"no lace count": {0x81, 0, 0, flagKeyframe | lacingXiph},
		"short header":  {0x81, 0},
	} {
		_, err := parseBlock(b, true)
		require.ErrorIs(t, err, demux.ErrMalformed, name)
	}
}

func TestUnsupportedCodec(t *testing.T) {
	in := bytes.Replace(demuxtest.ReadTestdata(t, "vp8_opus.webm"), []byte("A_OPUS"), []byte("A_DTS\x00"), 1)
	_, err := demuxBytes(in)
	require.ErrorIs(t, err, demux.ErrUnsupportedCodec)
	require.Contains(t, err.Error(), "A_DTS")

	r := &demuxed{}
	d := &Demuxer{SkipUnsupported: true,
		OnTrack: func(t *media.Track) error { r.Tracks = append(r.Tracks, t); return nil },
		OnFrame: func(f *media.Frame) error { r.Frames = append(r.Frames, f); return nil }}
	require.NoError(t, d.Initialize())
	require.NoError(t, d.Run(t.Context(), bytes.NewReader(in)))
	require.Len(t, r.Tracks, 1)
	require.Len(t, r.Frames, 30)
	require.Equal(t, uint64(51), d.Stats().DroppedOtherTracks)
}

func TestDTSGen(t *testing.T) {
	// x264 -bf 2 with b-pyramid: I0 P3 B1 B2 P6 B4 B5 …, 1 frame = 10.
	var g dtsGen
	g.init(2, 10)
	var last int64 = -1 << 62
	for _, pts := range []int64{0, 30, 10, 20, 60, 40, 50, 90, 70, 80} {
		dts := g.next(pts)
		require.LessOrEqual(t, dts, pts)
		require.GreaterOrEqual(t, dts, last)
		last = dts
	}
}
