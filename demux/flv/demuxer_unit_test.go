package flv

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
)

func newTestDemuxer(t testing.TB) (*Demuxer, *demuxed) {
	r := &demuxed{}
	d := newCollector(r)
	require.NoError(t, d.Initialize())
	return d, r
}

// firstTags returns the AVC sequence header and first video frame body of
// a real file.
func firstVideoTags(t testing.TB, name string) (seq, frame []byte) {
	src := demuxtest.ReadTestdata(t, name)
	for p := 13; p+11 <= len(src); {
		n := int(src[p+1])<<16 | int(src[p+2])<<8 | int(src[p+3])
		if src[p] == tagTypeVideo {
			body := src[p+11 : p+11+n]
			if body[1] == avcPacketSequenceHeader {
				seq = body
			} else if frame == nil {
				frame = body
			}
		}
		p += 11 + n + 4
	}
	require.NotNil(t, seq)
	require.NotNil(t, frame)
	return seq, frame
}

func TestUnsupportedCodecs(t *testing.T) {
	cases := []struct {
		name  string
		video bool
		body  []byte
		msg   string
	}{
		{"sorenson", true, []byte{0x22, 0}, "unsupported video codec in FLV: Sorenson H.263 (FLV codec id 2)"},
		{"vp6", true, []byte{0x14, 0}, "unsupported video codec in FLV: On2 VP6 (FLV codec id 4)"},
		{"fourcc", true, append([]byte{0x90}, "vp08"...), "unsupported video codec in FLV: FourCC 'vp08'"},
		{"nellymoser", false, []byte{0x62, 0}, "unsupported audio codec in FLV: Nellymoser (FLV sound format 6)"},
		{"speex", false, []byte{0xb2, 0}, "unsupported audio codec in FLV: Speex (FLV sound format 11)"},
		{"flac", false, append([]byte{0x91}, "fLaC"...), "unsupported audio codec in FLV: FourCC 'fLaC'"},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			d, _ := newTestDemuxer(t)
			var err error
			if ca.video {
				err = d.WriteVideo(0, ca.body)
			} else {
				err = d.WriteAudio(0, ca.body)
			}
			require.ErrorIs(t, err, demux.ErrUnsupportedCodec)
			require.EqualError(t, err, ca.msg)
			var de *demux.Error
			require.True(t, errors.As(err, &de))
		})
	}
}

func TestFramesBeforeSequenceHeader(t *testing.T) {
	seq, frame := firstVideoTags(t, "h264_high_bf2_aac.flv")
	d, r := newTestDemuxer(t)
	require.NoError(t, d.WriteVideo(0, frame))
	require.NoError(t, d.WriteAudio(0, []byte{0xaf, 1, 0x21, 0x00}))
	require.Empty(t, r.Frames)
	require.Equal(t, uint64(2), d.Stats().DroppedBeforeConfig)

	require.NoError(t, d.WriteVideo(0, seq))
	require.NoError(t, d.WriteVideo(0, seq)) // repeated: no new track
	require.Len(t, r.Tracks, 1)
	require.NoError(t, d.WriteVideo(33, frame))
	require.Len(t, r.Frames, 1)
	require.Same(t, r.Tracks[0], r.Frames[0].Track)

	// A changed configuration replaces the track, same ID.
	seq2, _ := firstVideoTags(t, "h264_main_mp3.flv")
	require.NoError(t, d.WriteVideo(66, seq2))
	require.Len(t, r.Tracks, 2)
	require.Equal(t, VideoTrackID, r.Tracks[1].ID)
	require.Equal(t, 320, r.Tracks[1].Width)
}

func TestFrameOwnsItsBytes(t *testing.T) {
	seq, frame := firstVideoTags(t, "h264_high_bf2_aac.flv")
	d, r := newTestDemuxer(t)
	require.NoError(t, d.WriteVideo(0, seq))
	body := append([]byte(nil), frame...)
	require.NoError(t, d.WriteVideo(0, body))
	want := append([]byte(nil), r.Frames[0].Data[0]...)
	for i := range body {
		body[i] = 0xee
	}
	require.Equal(t, want, r.Frames[0].Data[0])
}

func TestTimestamps(t *testing.T) {
	cases := []struct {
		name    string
		in      []uint32
		want    []int64 // ms
		discont uint64
	}{
		{"monotonic", []uint32{0, 33, 66}, []int64{0, 33, 66}, 0},
		{"audio trails video", []uint32{100, 80, 133}, []int64{100, 80, 133}, 0},
		{"32-bit wrap", []uint32{0xffffffe0, 0x10, 0x30}, []int64{0xffffffe0, 0x100000010, 0x100000030}, 0},
		{"24-bit boundary", []uint32{0xfffff0, 0x1000010}, []int64{0xfffff0, 0x1000010}, 0},
		{"encoder restart", []uint32{50000, 50033, 0, 33}, []int64{50000, 50033, 50033, 50066}, 1},
		{"jump forward", []uint32{0, 33, 3_600_000, 3_600_033}, []int64{0, 33, 33, 66}, 1},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			var tl timeline
			var got []int64
			for _, ts := range ca.in {
				got = append(got, tl.unwrap(ts))
			}
			require.Equal(t, ca.want, got)
			require.Equal(t, ca.discont, tl.discontinuities)
		})
	}
}

func TestAACInADTS(t *testing.T) {
	d, r := newTestDemuxer(t)
	require.NoError(t, d.WriteAudio(0, []byte{0xaf, 0, 0x12, 0x10})) // LC 44.1 kHz stereo
	raw := []byte{0x21, 0x10, 0x05, 0x00}
	adts := []byte{0xff, 0xf1, 0x50, 0x80, byte((7 + len(raw)) >> 3), byte((7+len(raw))<<5) | 0x1f, 0xfc}
	require.NoError(t, d.WriteAudio(23, append(append([]byte{0xaf, 1}, adts...), raw...)))
	require.Len(t, r.Frames, 1)
	require.Equal(t, [][]byte{raw}, r.Frames[0].Data)
	require.Equal(t, int64(23*44100/1000), r.Frames[0].DTS)
}

func TestMetadata(t *testing.T) {
	// @setDataFrame, onMetaData, ECMA array {width: 1280, videocodecid: 'hvc1', stereo: true}.
	body := []byte{2, 0, 13}
	body = append(body, "@setDataFrame"...)
	body = append(body, 2, 0, 10)
	body = append(body, "onMetaData"...)
	body = append(body, 8, 0, 0, 0, 3)
	body = append(body, 0, 5)
	body = append(body, "width"...)
	body = append(body, 0, 0x40, 0x94, 0, 0, 0, 0, 0, 0)
	body = append(body, 0, 12)
	body = append(body, "videocodecid"...)
	body = append(body, 2, 0, 4)
	body = append(body, "hvc1"...)
	body = append(body, 0, 6)
	body = append(body, "stereo"...)
	body = append(body, 1, 1, 0, 0, 9)
	d, r := newTestDemuxer(t)
	require.NoError(t, d.WriteScriptData(body))
	require.Len(t, r.metadata, 1)
	m := r.metadata[0]
	require.Equal(t, 1280.0, m.Width)
	require.Equal(t, fourCCHEVC, m.VideoCodecID)
	require.Equal(t, 2, m.AudioChannels)

	require.ErrorIs(t, d.WriteScriptData(body[:len(body)-12]), demux.ErrMalformed)
}

func TestMalformed(t *testing.T) {
	seq, _ := firstVideoTags(t, "h264_high_bf2_aac.flv")
	cases := []struct {
		name  string
		video bool
		body  []byte
	}{
		{"avc short", true, []byte{0x17, 1, 0}},
		{"avc bad config", true, []byte{0x17, 0, 0, 0, 0, 1, 2}},
		{"avc bad length", true, []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 9, 1}},
		{"ex truncated fourcc", true, []byte{0x91, 'h', 'v'}},
		{"modex truncated", true, []byte{0x97, 5, 1}},
		{"aac short", false, []byte{0xaf}},
		{"mp3 no sync", false, []byte{0x2f, 1, 2, 3, 4, 5, 6}},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			d, _ := newTestDemuxer(t)
			require.NoError(t, d.WriteVideo(0, seq))
			var err error
			if ca.video {
				err = d.WriteVideo(0, ca.body)
			} else {
				err = d.WriteAudio(0, ca.body)
			}
			require.ErrorIs(t, err, demux.ErrMalformed)
		})
	}
}

func TestReaderErrors(t *testing.T) {
	d, _ := newTestDemuxer(t)
	r := &Reader{R: errReader{}, Demuxer: d}
	require.ErrorIs(t, r.Initialize(), ErrNotFLV)

	in := demuxtest.ReadTestdata(t, "h264_high_bf2_aac.flv")
	res, err := demuxBytes(in[:len(in)/2])
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NotEmpty(t, res.Frames)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }
