package rtpdepack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	mcav1 "github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/vp9"
	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/media"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// recorder is a Sink that keeps what it is given.
type recorder struct {
	tracks []*media.Track
	frames []*media.Frame
}

func (r *recorder) Track(t *media.Track) error { r.tracks = append(r.tracks, t); return nil }
func (r *recorder) Frame(f *media.Frame) error { r.frames = append(r.frames, f); return nil }

func (r *recorder) pts() []int64 {
	var out []int64
	for _, f := range r.frames {
		out = append(out, f.PTS)
	}
	return out
}

// An H.264 stream: baseline 1280x720 (pic_order_cnt_type 2, so the DTS
// is the PTS), an IDR and non-IDR slices whose payload is filler.
var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x03, 0xc6, 0x0c, 0xa8}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

func slice(typ byte, n int) []byte {
	b := bytes.Repeat([]byte{0x5a}, n)
	b[0], b[1] = 0x60|typ, 0x88
	return b
}

// vp8Frame is a VP8 frame of n bytes: a keyframe of w×h (its frame tag,
// start code and size; RFC 6386 section 9.1) or an interframe.
func vp8Frame(key bool, w, h, n int) []byte {
	b := bytes.Repeat([]byte{0x33}, n)
	if !key {
		b[0] = 0x01
		return b
	}
	b[0], b[1], b[2] = 0x10, 0x02, 0x00
	b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
	binary.LittleEndian.PutUint16(b[6:], uint16(w))
	binary.LittleEndian.PutUint16(b[8:], uint16(h))
	return b
}

// ivfFrames reads the first n frames of an IVF file (the VP9 and AV1
// fixtures of demux/flv, 320x180).
func ivfFrames(t testing.TB, name string, n int) [][]byte {
	return testutil.IVFFile(t, "../../demux/flv/testdata/"+name)[:n]
}

// hevcAUs reads the first access units of the H.265 fixture (x265,
// 320x180, an access unit delimiter before each).
func hevcAUs(t testing.TB, n int) [][][]byte {
	buf, err := os.ReadFile("../../demux/flv/testdata/hevc.h265")
	require.NoError(t, err)
	nalus, err := h264.SplitAnnexB(buf)
	require.NoError(t, err)
	var aus [][][]byte
	for _, nalu := range nalus {
		if (nalu[0]>>1)&0x3f == 35 { // AUD
			if len(aus) == n {
				break
			}
			aus = append(aus, nil)
		}
		aus[len(aus)-1] = append(aus[len(aus)-1], nalu)
	}
	return aus
}

// tableCase is one stream of a codec: the units of each frame as the
// encoder takes them, and what the frames must be.
type tableCase struct {
	name   string
	format format.Format
	step   uint32 // RTP timestamp increment per frame
	frames [][][]byte
	track  media.Track // the fields of the announced track that are set
	// data returns what frame i must carry; nil: the units as sent.
	data func(i int) [][]byte
	keys []bool // the Key flags of the frames; nil: all true
}

func tableCases(t testing.TB) []tableCase {
	vp9 := ivfFrames(t, "vp9.ivf", 3)
	av1 := ivfFrames(t, "av1.ivf", 3)
	av1OBUs := make([][][]byte, len(av1))
	for i, tu := range av1 {
		var bs mcav1.Bitstream
		require.NoError(t, bs.Unmarshal(tu))
		av1OBUs[i] = bs
	}
	hevc := hevcAUs(t, 3)
	loas, err := os.ReadFile("../../codec/aac/testdata/tone.loas")
	require.NoError(t, err)
	elems, err := aac.SplitLOAS(loas)
	require.NoError(t, err)
	adts, err := os.ReadFile("../../codec/aac/testdata/tone.adts")
	require.NoError(t, err)
	aacFrames, _, err := aac.SplitADTS(adts)
	require.NoError(t, err)
	asc := &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}
	ascBytes, err := asc.Marshal()
	require.NoError(t, err)
	one := func(frames ...[]byte) [][][]byte {
		out := make([][][]byte, len(frames))
		for i, f := range frames {
			out[i] = [][]byte{f}
		}
		return out
	}
	g711 := one(bytes.Repeat([]byte{0xd5}, 160), bytes.Repeat([]byte{0x55}, 160), bytes.Repeat([]byte{0xd4}, 160))
	return []tableCase{
		{
			name: "H.264", format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}, step: 3000,
			frames: [][][]byte{{testSPS, testPPS, slice(5, 3000)}, {slice(1, 500)}, {slice(1, 1600)}},
			track:  media.Track{Codec: media.CodecH264, ClockRate: 90000, Width: 1280, Height: 720},
			keys:   []bool{true, false, false},
		},
		{
			name: "H.264 parameter sets in the SDP", step: 3000,
			format: &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: testSPS, PPS: testPPS},
			frames: [][][]byte{{slice(5, 3000)}, {slice(1, 500)}},
			track:  media.Track{Codec: media.CodecH264, ClockRate: 90000, Width: 1280, Height: 720},
			data: func(i int) [][]byte {
				if i == 0 {
					return [][]byte{testSPS, testPPS, slice(5, 3000)}
				}
				return [][]byte{slice(1, 500)}
			},
			keys: []bool{true, false},
		},
		{
			name: "H.265", format: &format.H265{PayloadTyp: 96}, step: 3000, frames: hevc,
			track: media.Track{Codec: media.CodecH265, ClockRate: 90000, Width: 320, Height: 180},
			keys:  []bool{true, false, false},
		},
		{
			name: "VP8", format: &format.VP8{PayloadTyp: 96}, step: 3000,
			frames: one(vp8Frame(true, 640, 360, 4000), vp8Frame(false, 0, 0, 900), vp8Frame(false, 0, 0, 100)),
			track:  media.Track{Codec: media.CodecVP8, ClockRate: 90000, Width: 640, Height: 360},
			keys:   []bool{true, false, false},
		},
		{
			name: "VP9", format: &format.VP9{PayloadTyp: 96}, step: 3000, frames: one(vp9...),
			track: media.Track{Codec: media.CodecVP9, ClockRate: 90000, Width: 320, Height: 180},
			keys:  []bool{true, false, false},
		},
		{
			name: "AV1", format: &format.AV1{PayloadTyp: 96}, step: 3000, frames: av1OBUs,
			track: media.Track{Codec: media.CodecAV1, ClockRate: 90000, Width: 320, Height: 180},
			data:  func(i int) [][]byte { return [][]byte{av1[i]} },
			keys:  []bool{true, false, false},
		},
		{
			name: "Opus", format: &format.Opus{PayloadTyp: 111, ChannelCount: 2}, step: 960,
			frames: one([]byte{0xfc, 1, 2, 3}, []byte{0xfc, 4, 5}, []byte{0xfc, 6}),
			track:  media.Track{Codec: media.CodecOpus, ClockRate: 48000, SampleRate: 48000, Channels: 2},
		},
		{
			name: "PCMA", format: &format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}, step: 160, frames: g711,
			track: media.Track{Codec: media.CodecPCMA, ClockRate: 8000, SampleRate: 8000, Channels: 1},
		},
		{
			name: "PCMU", format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}, step: 160, frames: g711,
			track: media.Track{Codec: media.CodecPCMU, ClockRate: 8000, SampleRate: 8000, Channels: 1},
		},
		{
			// L16 is big-endian on the wire, 16-bit little-endian in frames.
			name: "L16", format: &format.LPCM{PayloadTyp: 96, BitDepth: 16, SampleRate: 48000, ChannelCount: 2}, step: 1,
			frames: one([]byte{0x12, 0x34, 0xff, 0xfe}, []byte{0x00, 0x01, 0x80, 0x00}),
			track:  media.Track{Codec: media.CodecPCM, ClockRate: 48000, SampleRate: 48000, Channels: 2},
			data: func(i int) [][]byte {
				return [][][]byte{{{0x34, 0x12, 0xfe, 0xff}}, {{0x01, 0x00, 0x00, 0x80}}}[i]
			},
		},
		{
			name: "L8", format: &format.LPCM{PayloadTyp: 96, BitDepth: 8, SampleRate: 8000, ChannelCount: 1}, step: 2,
			frames: one([]byte{0x80, 0xff}),
			track:  media.Track{Codec: media.CodecPCM, ClockRate: 8000, SampleRate: 8000, Channels: 1},
			data:   func(int) [][]byte { return [][]byte{{0x00, 0x00, 0x00, 0x7f}} },
		},
		{
			name: "AAC (mpeg4-generic)", step: 1024,
			format: &format.MPEG4Audio{PayloadTyp: 96, Config: asc, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3},
			frames: one(aacFrames[0], aacFrames[1], aacFrames[2]),
			track:  media.Track{Codec: media.CodecAAC, ClockRate: 48000, SampleRate: 48000, Channels: 2, Config: ascBytes},
		},
		{
			// The configuration in band (cpresent=1), a 90 kHz clock.
			name: "AAC (MP4A-LATM, config in band)", format: &format.MPEG4AudioLATM{PayloadTyp: 96, CPresent: true},
			step: 1920, frames: one(elems[:3]...),
			track: media.Track{Codec: media.CodecAAC, ClockRate: 90000, SampleRate: 48000, Channels: 2},
			data:  func(i int) [][]byte { return [][]byte{aacFrames[i]} },
		},
		{
			// The configuration in the SDP (cpresent=0, as ffmpeg sends it).
			name: "AAC (MP4A-LATM, config in the SDP)", step: 1024,
			format: &format.MPEG4AudioLATM{PayloadTyp: 96, StreamMuxConfig: &mpeg4audio.StreamMuxConfig{
				Programs: []*mpeg4audio.StreamMuxConfigProgram{{Layers: []*mpeg4audio.StreamMuxConfigLayer{{
					AudioSpecificConfig: asc, LatmBufferFullness: 255,
				}}}},
			}},
			frames: one(latmPayload(aacFrames[0]), latmPayload(aacFrames[1]), latmPayload(aacFrames[2])),
			track:  media.Track{Codec: media.CodecAAC, ClockRate: 48000, SampleRate: 48000, Channels: 2, Config: ascBytes},
			data:   func(i int) [][]byte { return [][]byte{aacFrames[i]} },
		},
	}
}

// latmPayload is an AudioMuxElement of one AAC frame, the configuration
// out of band: its PayloadLengthInfo and the frame.
func latmPayload(f []byte) []byte {
	var p []byte
	n := len(f)
	for ; n >= 255; n -= 255 {
		p = append(p, 255)
	}
	return append(append(p, byte(n)), f...)
}

// encode packetizes the units of one frame with gortsplib's encoder of
// the format (each format's CreateEncoder returns its own type).
func encode(t testing.TB, f format.Format, units [][]byte) []*rtp.Packet {
	create := reflect.ValueOf(f).MethodByName("CreateEncoder")
	require.True(t, create.IsValid(), "no encoder for %T", f)
	out := create.Call(nil)
	require.Nil(t, out[1].Interface(), "%T encoder", f)
	var pkts []*rtp.Packet
	var err error
	switch e := out[0].Interface().(type) {
	case interface { // H.264, H.265, AV1, MPEG-4 audio: the units
		Encode([][]byte) ([]*rtp.Packet, error)
	}:
		pkts, err = e.Encode(units)
	case interface { // VP8, VP9, G.711, LPCM, LATM: one frame
		Encode([]byte) ([]*rtp.Packet, error)
	}:
		pkts, err = e.Encode(units[0])
	case interface { // Opus: one packet
		Encode([]byte) (*rtp.Packet, error)
	}:
		var p *rtp.Packet
		p, err = e.Encode(units[0])
		pkts = []*rtp.Packet{p}
	default:
		t.Fatalf("unknown encoder %T", e)
	}
	require.NoError(t, err)
	return pkts
}

// stream packetizes the frames of a case, numbering the packets from seq
// and timing frame i at ts + i*step.
func stream(t testing.TB, c tableCase, seq uint16, ts uint32) [][]*rtp.Packet {
	out := make([][]*rtp.Packet, len(c.frames))
	for i, units := range c.frames {
		for _, p := range encode(t, c.format, units) {
			p.SequenceNumber, p.Timestamp = seq, ts+uint32(i)*c.step
			seq++
			out[i] = append(out[i], p)
		}
	}
	return out
}

// depack is a track of a case with a recorder and a count of keyframe
// requests.
type depack struct {
	*TrackDepacketizer
	rec      *recorder
	requests int
}

func newDepack(t testing.TB, f format.Format) *depack {
	d := &depack{rec: &recorder{}}
	tr, err := New(Config{Format: f, ID: 3, RequestKeyframe: func() { d.requests++ }})
	require.NoError(t, err)
	d.TrackDepacketizer = tr
	return d
}

func (d *depack) write(t testing.TB, pkts ...*rtp.Packet) {
	for _, p := range pkts {
		require.NoError(t, d.Write(p, d.rec))
	}
}

// TestCodecs: every codec's frames come out as they went in, timed by
// their RTP timestamps from 0, on one track of the codec's description —
// also across the wrap-around of the sequence numbers and timestamps.
func TestCodecs(t *testing.T) {
	for _, c := range tableCases(t) {
		for _, start := range []struct {
			name string
			seq  uint16
			ts   uint32
		}{{"", 1000, 90000}, {" wrapping", 65534, math.MaxUint32 - c.step + 1}} {
			t.Run(c.name+start.name, func(t *testing.T) {
				d := newDepack(t, c.format)
				for _, pkts := range stream(t, c, start.seq, start.ts) {
					d.write(t, pkts...)
				}
				require.Len(t, d.rec.tracks, 1)
				got := *d.rec.tracks[0]
				require.Equal(t, 3, got.ID)
				require.Equal(t, c.track.Codec, got.Codec)
				require.Equal(t, c.track.Codec.Kind(), got.Kind)
				require.Equal(t, c.track.ClockRate, got.ClockRate)
				require.Equal(t, c.track.Width, got.Width)
				require.Equal(t, c.track.Height, got.Height)
				require.Equal(t, c.track.SampleRate, got.SampleRate)
				require.Equal(t, c.track.Channels, got.Channels)
				if c.track.Config != nil {
					require.Equal(t, c.track.Config, got.Config)
				}
				require.Len(t, d.rec.frames, len(c.frames))
				for i, f := range d.rec.frames {
					want := c.frames[i]
					if c.data != nil {
						want = c.data(i)
					}
					require.Equal(t, want, f.Data, "frame %d", i)
					require.Equal(t, int64(i)*int64(c.step), f.PTS, "frame %d", i)
					require.Equal(t, f.PTS, f.DTS)
					require.Same(t, d.rec.tracks[0], f.Track)
					if c.keys != nil {
						require.Equal(t, c.keys[i], f.Key, "frame %d", i)
					} else {
						require.True(t, f.Key)
					}
				}
				require.Zero(t, d.requests, "no keyframe asked for")
			})
		}
	}
}

// videoCases are the video cases whose middle frame spans several
// packets.
func videoCases(t *testing.T) []tableCase {
	var out []tableCase
	for _, c := range tableCases(t) {
		if c.track.Codec.Kind() == media.KindVideo && len(c.frames) == 3 {
			out = append(out, c)
		}
	}
	return out
}

// TestLoss: a lost packet drops the frame it belonged to (not a frame
// glued from the packets around the hole) and a keyframe is asked for.
// When the sender can be asked (WebRTC), the video waits for that
// keyframe; when it cannot (RTSP), the frames after the hole still come.
func TestLoss(t *testing.T) {
	for _, c := range videoCases(t) {
		for _, canAsk := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s asking %v", c.name, canAsk), func(t *testing.T) {
				// Frame 1 made large enough for several packets.
				switch c.track.Codec {
				case media.CodecH264:
					c.frames[1] = [][]byte{slice(1, 4000)}
				case media.CodecVP8:
					c.frames[1] = [][]byte{vp8Frame(false, 0, 0, 4000)}
				}
				// Frame 3 is the first frame again: a keyframe.
				c.frames = append(c.frames[:3:3], c.frames[0])
				frames := stream(t, c, 10, 0)
				d := newDepack(t, c.format)
				if !canAsk {
					d.conf.RequestKeyframe = nil
				}
				d.write(t, frames[0]...)
				if lost := frames[1]; len(lost) >= 3 {
					d.write(t, lost[0])
					d.write(t, lost[2:]...) // the second packet is lost
				} // else the whole frame is lost
				d.write(t, frames[2]...)
				d.write(t, frames[3]...)
				step := int64(c.step)
				if canAsk {
					require.Equal(t, []int64{0, 3 * step}, d.rec.pts(), "frames 1 and 2 dropped")
					require.Positive(t, d.requests, "a keyframe asked for")
				} else {
					require.Equal(t, []int64{0, 2 * step, 3 * step}, d.rec.pts(), "frame 1 dropped")
				}
				require.True(t, d.rec.frames[len(d.rec.frames)-1].Key)
			})
		}
	}
}

// TestLateAndRepeated: a repeated packet changes nothing; a packet that
// comes after its successor is taken as lost (its frame dropped) and then
// dropped when it arrives.
func TestLateAndRepeated(t *testing.T) {
	c := tableCases(t)[3] // VP8
	require.Equal(t, media.CodecVP8, c.track.Codec)
	frames := stream(t, c, 10, 0)
	require.GreaterOrEqual(t, len(frames[0]), 3)

	d := newDepack(t, c.format)
	for _, p := range frames[0] {
		d.write(t, p, p)
	}
	d.write(t, frames[1]...)
	d.write(t, frames[2]...)
	require.Equal(t, []int64{0, 3000, 6000}, d.rec.pts(), "a repeated packet is dropped")
	require.Zero(t, d.requests)

	d = newDepack(t, c.format)
	f0 := frames[0]
	d.write(t, f0[0], f0[2], f0[1])
	d.write(t, f0[3:]...)
	d.write(t, frames[1]...)
	d.write(t, frames[2]...)
	require.Empty(t, d.rec.frames, "no frame before a whole keyframe")
	require.Positive(t, d.requests)
}

// TestOversize: a frame over the decoder's bound (VP8: 2 MiB) is dropped
// like a lost one, and the next keyframe comes through.
func TestOversize(t *testing.T) {
	c := tableCases(t)[3] // VP8
	c.frames = [][][]byte{{vp8Frame(true, 640, 360, 3<<20)}, {vp8Frame(true, 640, 360, 5000)}}
	frames := stream(t, c, 10, 0)
	d := newDepack(t, c.format)
	for _, f := range frames {
		d.write(t, f...)
	}
	require.Equal(t, []int64{3000}, d.rec.pts())
	require.Positive(t, d.requests)
}

// TestWaitForKeyframe: interframes before the first keyframe are dropped
// while a keyframe is asked for; the stream starts at the keyframe.
func TestWaitForKeyframe(t *testing.T) {
	for _, c := range videoCases(t) {
		t.Run(c.name, func(t *testing.T) {
			frames := stream(t, c, 10, 0)
			d := newDepack(t, c.format)
			d.write(t, frames[1]...)
			d.write(t, frames[2]...)
			require.Empty(t, d.rec.frames)
			require.Empty(t, d.rec.tracks)
			require.Positive(t, d.requests)
			// A keyframe later in the stream.
			key := stream(t, tableCase{format: c.format, frames: c.frames[:1]}, frames[2][len(frames[2])-1].SequenceNumber+1, 9000)
			d.write(t, key[0]...)
			require.Len(t, d.rec.frames, 1)
			require.True(t, d.rec.frames[0].Key)
		})
	}
}

// TestSizeChange: a keyframe of another size announces a new track.
func TestSizeChange(t *testing.T) {
	c := tableCases(t)[3] // VP8
	c.frames = [][][]byte{{vp8Frame(true, 640, 360, 100)}, {vp8Frame(false, 0, 0, 100)}, {vp8Frame(true, 320, 180, 100)}}
	d := newDepack(t, c.format)
	for _, f := range stream(t, c, 10, 0) {
		d.write(t, f...)
	}
	require.Len(t, d.rec.tracks, 2)
	require.Equal(t, 320, d.rec.tracks[1].Width)
	require.Same(t, d.rec.tracks[1], d.rec.frames[2].Track)
}

// TestSharedClock: the second track of a session starts where the first
// one is when the second's first packet arrives.
func TestSharedClock(t *testing.T) {
	clock := NewClock()
	video, err := New(Config{Format: &format.VP8{PayloadTyp: 96}, Clock: clock})
	require.NoError(t, err)
	audio, err := New(Config{Format: &format.Opus{PayloadTyp: 111, ChannelCount: 2}, Clock: clock})
	require.NoError(t, err)
	rec := &recorder{}
	require.NoError(t, video.Write(&rtp.Packet{Header: rtp.Header{SequenceNumber: 1, Timestamp: 12345, Marker: true},
		Payload: append([]byte{0x10}, vp8Frame(true, 64, 64, 20)...)}, rec))
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, audio.Write(&rtp.Packet{Header: rtp.Header{SequenceNumber: 7, Timestamp: 999}, Payload: []byte{0xfc}}, rec))
	require.Len(t, rec.frames, 2)
	require.Zero(t, rec.frames[0].PTS)
	require.GreaterOrEqual(t, rec.frames[1].PTS, int64(4800), "100 ms at 48 kHz")
	require.Less(t, rec.frames[1].PTS, int64(5*48000))
}

// TestRefused: formats no frame is made of, and parameters over the
// bounds, are refused with a reason.
func TestRefused(t *testing.T) {
	_, err := New(Config{Format: &format.MJPEG{}})
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorIs(t, err, demux.ErrUnsupportedCodec, "one vocabulary with the demuxers")
	require.ErrorContains(t, err, "JPEG")
	_, err = New(Config{Format: &format.MPEG4Audio{PayloadTyp: 96}})
	require.ErrorIs(t, err, ErrUnsupported, "MPEG-4 audio without its configuration")
	_, err = New(Config{Format: &format.G711{PayloadTyp: 96, SampleRate: 8000, ChannelCount: 100}})
	require.ErrorContains(t, err, "100 channels", "channels beyond the bound")
	_, err = New(Config{Format: &format.LPCM{PayloadTyp: 96, BitDepth: 16, SampleRate: 1000000, ChannelCount: 1}})
	require.ErrorContains(t, err, "1000000 Hz")
	_, err = New(Config{Format: &format.MPEG4AudioLATM{PayloadTyp: 96, StreamMuxConfig: &mpeg4audio.StreamMuxConfig{}}})
	require.Error(t, err, "a configuration without program")
}

// TestParseFormat: the formats of a WebRTC negotiation.
func TestParseFormat(t *testing.T) {
	f, err := ParseFormat("video", 102, "H264", 90000, 0, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
	require.NoError(t, err)
	require.Equal(t, 1, f.(*format.H264).PacketizationMode)
	for _, enc := range []string{"VP8", "VP9", "AV1"} {
		f, err := ParseFormat("video", 96, enc, 90000, 0, "")
		require.NoError(t, err)
		tr, err := New(Config{Format: f})
		require.NoError(t, err)
		require.Equal(t, enc, tr.Codec().String())
	}
	f, err = ParseFormat("audio", 111, "opus", 48000, 2, "minptime=10;useinbandfec=1")
	require.NoError(t, err)
	require.Equal(t, 2, f.(*format.Opus).ChannelCount)
	// The law is the name's, whatever the number (0 is µ-law's static
	// payload type).
	f, err = ParseFormat("audio", 0, "PCMA", 8000, 0, "")
	require.NoError(t, err)
	require.False(t, f.(*format.G711).MULaw)
	f, err = ParseFormat("audio", 8, "PCMU", 8000, 0, "")
	require.NoError(t, err)
	require.True(t, f.(*format.G711).MULaw)

	f, err = ParseFormat("audio", 96, "telephone-event", 8000, 0, "")
	if err == nil {
		_, err = New(Config{Format: f})
	}
	require.ErrorIs(t, err, ErrUnsupported)
}

// errSink fails every call.
type errSink struct{}

var errFull = errors.New("full")

func (errSink) Track(*media.Track) error { return errFull }
func (errSink) Frame(*media.Frame) error { return errFull }

// TestSinkError: the errors of the sink are returned.
func TestSinkError(t *testing.T) {
	c := tableCases(t)[6] // Opus
	require.Equal(t, media.CodecOpus, c.track.Codec)
	tr, err := New(Config{Format: c.format})
	require.NoError(t, err)
	require.ErrorIs(t, tr.Write(stream(t, c, 1, 1)[0][0], errSink{}), errFull)
}

func ExampleParseFormat() {
	f, _ := ParseFormat("audio", 8, "PCMA", 8000, 1, "")
	tr, _ := New(Config{Format: f})
	fmt.Println(tr.Kind(), tr.Codec())
	// Output: audio G.711 A-law (PCMA)
}

// TestParseFormatBrowserNumbers: the payload types browsers give beyond
// 96–127 (Chrome: AV1 45, H.264 39).
func TestParseFormatBrowserNumbers(t *testing.T) {
	f, err := ParseFormat("video", 45, "AV1", 90000, 0, "level-idx=5;profile=0;tier=0")
	require.NoError(t, err)
	require.IsType(t, &format.AV1{}, f)
	f, err = ParseFormat("video", 39, "H264", 90000, 0, "packetization-mode=1;profile-level-id=4d001f")
	require.NoError(t, err)
	require.IsType(t, &format.H264{}, f)
}

// TestVP9SpatialLayers: the frames a scalable (SVC) VP9 sender sends for
// one picture — one per spatial layer, one RTP timestamp, the marker on
// the picture's last packet — come out as one frame, a superframe of
// them in order (decoding the lowest alone would give its small picture);
// a picture of one frame comes as it went. A sender that sets no marker
// has its picture ended by the next one; a picture that lost a packet of
// any layer is dropped whole.
func TestVP9SpatialLayers(t *testing.T) {
	vp9f := ivfFrames(t, "vp9.ivf", 3)
	f := &format.VP9{PayloadTyp: 96}
	seq := uint16(100)
	// picture packetizes the layer frames of one picture.
	picture := func(ts uint32, marker bool, layers ...[]byte) [][]*rtp.Packet {
		var out [][]*rtp.Packet
		for i, l := range layers {
			pkts := encode(t, f, [][]byte{l})
			for _, p := range pkts {
				p.SequenceNumber, p.Timestamp, p.Marker = seq, ts, false
				seq++
			}
			pkts[len(pkts)-1].Marker = marker && i == len(layers)-1
			out = append(out, pkts)
		}
		return out
	}
	write := func(d *depack, frames [][]*rtp.Packet) {
		for _, pkts := range frames {
			d.write(t, pkts...)
		}
	}
	joined, err := vp9.JoinSuperframe([][]byte{vp9f[0], vp9f[1]})
	require.NoError(t, err)

	for _, marker := range []bool{true, false} {
		t.Run(fmt.Sprintf("marker %v", marker), func(t *testing.T) {
			d := newDepack(t, f)
			write(d, picture(3000, marker, vp9f[0], vp9f[1]))
			if marker {
				require.Len(t, d.rec.frames, 1, "the picture ends at its marker")
			} else {
				require.Empty(t, d.rec.frames, "without a marker the picture ends when the next starts")
			}
			write(d, picture(6000, true, vp9f[2]))
			require.Len(t, d.rec.frames, 2)
			first := d.rec.frames[0]
			require.Equal(t, [][]byte{joined}, first.Data)
			require.True(t, first.Key, "the lowest layer is a keyframe")
			require.Equal(t, []int64{0, 3000}, d.rec.pts())
			require.Equal(t, [][]byte{vp9f[2]}, d.rec.frames[1].Data, "one frame, as it went")
			require.Len(t, d.rec.tracks, 1)
			require.Equal(t, 320, d.rec.tracks[0].Width)
			require.Zero(t, d.requests)
		})
	}

	t.Run("loss", func(t *testing.T) {
		d := newDepack(t, f)
		write(d, picture(3000, true, vp9f[0]))
		pic := picture(6000, true, vp9f[1], vp9f[2])
		d.write(t, pic[0]...)
		for _, p := range pic[1] {
			p.SequenceNumber++ // a packet lost before the upper layer
		}
		write(d, pic[1:])
		require.Equal(t, []int64{0}, d.rec.pts(), "the picture with a lost packet is dropped")
		require.Positive(t, d.requests)
	})

	t.Run("too many layers", func(t *testing.T) {
		d := newDepack(t, f)
		layers := make([][]byte, vp9.MaxSuperframeFrames+1)
		for i := range layers {
			layers[i] = vp9f[0]
		}
		write(d, picture(3000, true, layers...))
		require.Empty(t, d.rec.frames)
		require.Positive(t, d.requests)
	})

	// A browser's keyframe carries the scalability structure in its
	// first packet's payload descriptor: three spatial layers, 320x180 to
	// 1280x720. The track is the top layer's size, not the keyframe's
	// (the lowest layer's).
	t.Run("scalability structure", func(t *testing.T) {
		d := newDepack(t, f)
		ss := []byte{0x8e, 0x01, 0x50} // I B E V, picture ID 1, N_S 2 with Y
		for _, wh := range []uint16{320, 180, 640, 360, 1280, 720} {
			ss = binary.BigEndian.AppendUint16(ss, wh)
		}
		d.write(t, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 3000}, Payload: append(ss, vp9f[0]...)})
		d.write(t, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 2, Timestamp: 3000, Marker: true},
			Payload: append([]byte{0x8c, 0x01}, vp9f[1]...)})
		require.Len(t, d.rec.frames, 1)
		require.Equal(t, [][]byte{joined}, d.rec.frames[0].Data)
		require.Len(t, d.rec.tracks, 1)
		require.Equal(t, [2]int{1280, 720}, [2]int{d.rec.tracks[0].Width, d.rec.tracks[0].Height})
		// A keyframe without a structure is its frame's size: the
		// structure described its own picture only.
		d.write(t, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 3, Timestamp: 6000, Marker: true},
			Payload: append([]byte{0x8c, 0x02}, vp9f[0]...)})
		require.Len(t, d.rec.tracks, 2)
		require.Equal(t, [2]int{320, 180}, [2]int{d.rec.tracks[1].Width, d.rec.tracks[1].Height})
	})

	t.Run("too large", func(t *testing.T) {
		d := newDepack(t, f)
		big := append(slices.Clone(vp9f[1]), make([]byte, 1<<20)...)
		write(d, picture(3000, true, vp9f[0], big, big))
		require.Empty(t, d.rec.frames, "a picture of over 2 MiB")
		require.Positive(t, d.requests)
	})
}
