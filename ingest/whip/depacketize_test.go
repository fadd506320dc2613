package whip

import (
	"sync"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// framesRecorder is a FramePublisher that keeps what it is given.
type framesRecorder struct {
	mu     sync.Mutex
	tracks []*media.Track
	frames []*media.Frame
	done   chan struct{}
}

func (r *framesRecorder) Track(t *media.Track) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tracks = append(r.tracks, t)
	return nil
}

func (r *framesRecorder) Frame(f *media.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, f)
	return nil
}

func (r *framesRecorder) Close(error)           {}
func (r *framesRecorder) Done() <-chan struct{} { return r.done }

// TestDepacketizeG711: each PCMA packet is a frame of its samples, on an
// 8 kHz track, timed by the RTP timestamps.
func TestDepacketizeG711(t *testing.T) {
	for _, c := range []struct {
		mime  string
		codec media.CodecID
	}{{webrtc.MimeTypePCMA, media.CodecPCMA}, {webrtc.MimeTypePCMU, media.CodecPCMU}} {
		rec := &framesRecorder{done: make(chan struct{})}
		d := &Depacketizer{ID: "WH_x", Publisher: rec}
		require.True(t, d.TranscodesAudio())
		require.NoError(t, d.Start(Negotiated{Audio: &webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.mime, ClockRate: 8000}}}))
		for i := range 3 {
			payload := make([]byte, 160)
			payload[0] = byte(i)
			d.WriteAudioRTP(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(7 + i), Timestamp: uint32(1000 + 160*i)}, Payload: payload})
		}
		require.Len(t, rec.tracks, 1)
		require.Equal(t, c.codec, rec.tracks[0].Codec)
		require.Equal(t, 8000, rec.tracks[0].SampleRate)
		require.Equal(t, 8000, rec.tracks[0].ClockRate)
		require.Len(t, rec.frames, 3)
		for i, f := range rec.frames {
			require.Len(t, f.Data[0], 160)
			require.Equal(t, byte(i), f.Data[0][0])
			require.Equal(t, rec.frames[0].PTS+int64(160*i), f.PTS)
		}
	}
}

// vp8Packet is a one-packet VP8 frame: a 64x64 keyframe or an interframe.
func vp8Packet(seq uint16, ts uint32, key bool) *rtp.Packet {
	frame := []byte{0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x33, 0x33}
	if key {
		frame = []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 64, 0, 64, 0, 0x33, 0x33}
	}
	return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: true},
		Payload: append([]byte{0x10}, frame...)} // VP8 descriptor: S=1, partition 0
}

// TestDepacketizePadding: a padding-only packet (a bandwidth probe, which
// takes a sequence number of the stream) is not a loss: every frame
// comes, and no keyframe is asked for.
func TestDepacketizePadding(t *testing.T) {
	rec := &framesRecorder{done: make(chan struct{})}
	plis := 0
	d := &Depacketizer{ID: "WH_x", Publisher: rec}
	require.NoError(t, d.Start(Negotiated{
		Video:           &webrtc.RTPCodecParameters{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}},
		RequestKeyframe: func(int) { plis++ },
	}))
	d.WriteVideoRTP(0, vp8Packet(10, 0, true))
	d.WriteVideoRTP(0, &rtp.Packet{Header: rtp.Header{SequenceNumber: 11, Timestamp: 0, Padding: true}})
	d.WriteVideoRTP(0, vp8Packet(12, 3000, false))
	d.WriteVideoRTP(0, vp8Packet(13, 6000, false))
	require.Len(t, rec.frames, 3)
	require.Equal(t, int64(6000), rec.frames[2].PTS-rec.frames[0].PTS)
	require.Zero(t, plis)
}

// TestDepacketizeAV1: a transcoding session takes AV1 (the WHIP offer
// negotiates it) and gets its temporal units, described by the sequence
// header.
func TestDepacketizeAV1(t *testing.T) {
	rec := &framesRecorder{done: make(chan struct{})}
	d := &Depacketizer{ID: "WH_x", Publisher: rec}
	require.NoError(t, d.Start(Negotiated{
		Video:           &webrtc.RTPCodecParameters{PayloadType: 45, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}},
		RequestKeyframe: func(int) {},
	}))
	// A temporal unit of a sequence header (libaom, 320x180) and a frame
	// OBU, in one packet (aggregation header W=2, no fragments).
	seqHeader := []byte{0x08, 0x00, 0x00, 0x00, 0x04, 0x3c, 0xfe, 0xcc, 0xda, 0xf9, 0x00, 0x40}
	frame := []byte{0x30, 0x10, 0x20}
	payload := append([]byte{0x20, byte(len(seqHeader))}, seqHeader...)
	payload = append(payload, frame...)
	d.WriteVideoRTP(0, &rtp.Packet{Header: rtp.Header{PayloadType: 45, SequenceNumber: 1, Timestamp: 90000, Marker: true}, Payload: payload})
	require.Len(t, rec.tracks, 1)
	require.Equal(t, media.CodecAV1, rec.tracks[0].Codec)
	require.Equal(t, 320, rec.tracks[0].Width)
	require.Equal(t, 180, rec.tracks[0].Height)
	require.Len(t, rec.frames, 1)
	require.True(t, rec.frames[0].Key)
	// Low-overhead format: each OBU with obu_has_size_field and its size.
	want := append([]byte{0x0a, byte(len(seqHeader) - 1)}, seqHeader[1:]...)
	want = append(want, 0x32, byte(len(frame)-1), 0x10, 0x20)
	require.Equal(t, [][]byte{want}, rec.frames[0].Data)
}
