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
