package forward_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/pipeline/forward"
	"github.com/tributary-ingress/tributary/pipeline/pipelinetest"
	"github.com/tributary-ingress/tributary/room"
)

// The forwarding strategy in its session, against a fake room and a fake
// clock.

// VP8 keyframe starts (payload descriptor S=1 PID=0) of 640x360 and
// 320x180.
var (
	vp8Key360 = []byte{0x10, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01, 0xff}
	vp8Key180 = []byte{0x10, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00, 0xff}
	vp8Delta  = []byte{0x10, 0x51, 0x42}
	opusCodec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
)

// source records the keyframe requests sent back to the WebRTC client.
type source struct {
	mu        sync.Mutex
	keyframes []int
}

func (s *source) RequestKeyframe(layer int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyframes = append(s.keyframes, layer)
}

func (s *source) Keyframes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keyframes)
}

type rig struct {
	clock *pipelinetest.Clock
	rooms *pipelinetest.Rooms
	rep   *pipelinetest.Reporter
	src   *source
	f     *forward.Forwarder
	stats *pipeline.Stats
	seq   [3]uint16
}

func newRig(t *testing.T, rooms *pipelinetest.Rooms) *rig {
	t.Helper()
	return newTranscodingRig(t, rooms, nil)
}

// newTranscodingRig starts a session whose G.711 audio is transcoded with
// tcs.
func newTranscodingRig(t *testing.T, rooms *pipelinetest.Rooms, tcs pipeline.Transcoders) *rig {
	t.Helper()
	if rooms == nil {
		rooms = &pipelinetest.Rooms{}
	}
	r := &rig{clock: pipelinetest.NewClock(), rooms: rooms, src: &source{}, stats: &pipeline.Stats{}}
	r.rep = pipelinetest.NewReporter(&livekit.IngressInfo{IngressId: "IN_test", RoomName: "room", ParticipantIdentity: "browser"})
	r.f = forward.Start(pipeline.Config{Reporter: r.rep, Rooms: rooms, Clock: r.clock, Stats: r.stats, Transcoders: tcs})
	t.Cleanup(func() {
		r.f.Close(nil)
		r.clock.Run(t, 100*time.Millisecond, time.Hour, r.ended)
	})
	return r
}

func (r *rig) ended() bool {
	select {
	case <-r.f.Done():
		return true
	default:
		return false
	}
}

// configure hands over VP8 in layers simulcast encodings, and Opus.
func (r *rig) configure(t *testing.T, layers int) {
	t.Helper()
	require.NoError(t, r.f.Configure(forward.Media{
		Video:           &forward.NegotiatedVideo{Codec: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, Layers: layers},
		Audio:           &opusCodec,
		RequestKeyframe: r.src.RequestKeyframe,
	}))
}

func (r *rig) video(layer int, payload []byte) {
	r.seq[layer]++
	r.f.WriteVideoRTP(layer, &rtp.Packet{Header: rtp.Header{SequenceNumber: r.seq[layer], Marker: true}, Payload: payload})
}

// publish starts a one-layer session and returns its room once published.
func (r *rig) publish(t *testing.T) *pipelinetest.Room {
	t.Helper()
	r.configure(t, 1)
	r.video(0, vp8Key360)
	rm := r.rooms.WaitRoom(t, 1)
	// The keyframe request follows the tracks' hand-over to the packet
	// path.
	pipelinetest.Eventually(t, func() bool { return len(r.src.Keyframes()) == 1 }, "published")
	return rm
}

// TestForwardWaitsForSizes: the track is published once every layer's
// size is known from its bitstream, or after SizeWait with the missing
// sizes estimated; packets are forwarded from then on, padding left out,
// and every layer is asked for a keyframe.
func TestForwardWaitsForSizes(t *testing.T) {
	r := newRig(t, nil)
	r.configure(t, 2)
	rm := r.rooms.WaitRoom(t, 1)
	r.video(0, vp8Key360)
	waited := r.clock.Run(t, 10*time.Millisecond, time.Minute, func() bool { return rm.RTPAudio() != nil })
	require.GreaterOrEqual(t, waited, forward.DefaultSizeWait, "not before SizeWait")
	require.Equal(t, []room.VideoLayer{
		{Quality: livekit.VideoQuality_HIGH, Width: 640, Height: 360},
		{Quality: livekit.VideoQuality_MEDIUM, Width: 320, Height: 180},
	}, rm.RTPVideo().Spec.Layers)
	pipelinetest.Eventually(t, func() bool { return len(r.src.Keyframes()) == 2 }, "keyframes requested")
	require.ElementsMatch(t, []int{0, 1}, r.src.Keyframes())
	require.Zero(t, r.rep.Publishing(), "nothing forwarded yet")

	r.video(1, vp8Key180)
	r.video(1, nil) // padding
	r.video(1, vp8Delta)
	r.f.WriteAudioRTP(&rtp.Packet{Header: rtp.Header{SequenceNumber: 7}, Payload: []byte{0xfc}})
	got := rm.RTPVideo().Packets(1)
	require.Len(t, got, 2)
	require.Equal(t, got[0].SequenceNumber+1, got[1].SequenceNumber, "no gap where the padding was")
	require.Len(t, rm.RTPAudio().Packets(), 1)
	require.Equal(t, 1, r.rep.Publishing())
	require.Len(t, r.rep.Tracks(), 2)

	video, _ := r.stats.OutputBytes()
	require.Equal(t, []int64{int64(len(vp8Key180) + len(vp8Delta))}, video, "MEDIUM is the lowest layer here")
}

// TestForwardAllSizesKnown: with every size known the track is published
// at once.
func TestForwardAllSizesKnown(t *testing.T) {
	r := newRig(t, nil)
	r.configure(t, 2)
	r.video(0, vp8Key360)
	r.video(1, vp8Key180)
	rm := r.rooms.WaitRoom(t, 1)
	pipelinetest.Eventually(t, func() bool { return rm.RTPVideo() != nil }, "published without waiting")
}

// TestForwardNoMedia: a client that stops sending ends the session with
// the pipeline's one ErrNoMedia.
func TestForwardNoMedia(t *testing.T) {
	r := newRig(t, nil)
	r.publish(t)
	r.video(0, vp8Delta)
	last := r.clock.Now()
	r.clock.Run(t, 100*time.Millisecond, time.Minute, r.ended)
	err := r.rep.WaitEnd(t)
	require.ErrorIs(t, err, pipeline.ErrNoMedia)
	require.EqualError(t, err, "no media received for 25s: the WebRTC client stopped sending")
	silent := r.clock.Now().Sub(last)
	require.GreaterOrEqual(t, silent, forward.DefaultNoMediaTimeout)
	require.Less(t, silent, forward.DefaultNoMediaTimeout+time.Second)
}

// TestForwardRejoin: after a final disconnect whose reason allows it, a
// forwarding session joins again and republishes, asks the client for
// keyframes for the new track, and forwards into the new room.
func TestForwardRejoin(t *testing.T) {
	rooms := &pipelinetest.Rooms{JoinErr: func(n int) error {
		if n == 2 {
			return errors.New("connection refused")
		}
		return nil
	}}
	r := newRig(t, rooms)
	rm1 := r.publish(t)
	r.video(0, vp8Delta)
	require.Len(t, rm1.RTPVideo().Packets(0), 1)
	pipelinetest.Eventually(t, func() bool { return len(r.src.Keyframes()) == 1 }, "a keyframe asked for")

	rm1.Disconnect(livekit.DisconnectReason_SERVER_SHUTDOWN, true)
	pipelinetest.Eventually(t, rm1.Closed, "the room is left")
	r.video(0, vp8Delta) // while away: dropped
	r.clock.WaitTimer(t, 500*time.Millisecond)
	r.clock.Advance(500 * time.Millisecond)
	r.clock.WaitTimer(t, time.Second) // the second attempt failed
	r.clock.Advance(time.Second)
	rm2 := rooms.WaitRoom(t, 2)
	pipelinetest.Eventually(t, func() bool { return rm2.RTPVideo() != nil && rm2.RTPAudio() != nil }, "published again")
	require.Equal(t, []room.VideoLayer{{Quality: livekit.VideoQuality_HIGH, Width: 640, Height: 360}}, rm2.RTPVideo().Spec.Layers)
	pipelinetest.Eventually(t, func() bool { return len(r.src.Keyframes()) == 2 }, "a keyframe asked for the new track")
	r.video(0, vp8Key360)
	require.Len(t, rm2.RTPVideo().Packets(0), 1)
	require.Len(t, rm1.RTPVideo().Packets(0), 1, "nothing more into the room left")
	require.Equal(t, []string{"RM_1", "RM_2"}, r.rep.RoomIDs())
	require.Equal(t, 1, r.rep.Publishing())

	r.f.Close(nil)
	require.NoError(t, r.rep.WaitEnd(t))
	require.True(t, rm2.Closed())
}

// TestForwardNoRejoinWhenRemoved: as for frames, a removed participant is
// not brought back.
func TestForwardNoRejoinWhenRemoved(t *testing.T) {
	r := newRig(t, nil)
	rm := r.publish(t)
	rm.Disconnect(livekit.DisconnectReason_PARTICIPANT_REMOVED, false)
	require.ErrorIs(t, r.rep.WaitEnd(t), room.ErrDisconnected)
	require.Equal(t, 1, r.rooms.Attempts())
}

// TestForwardKeyframeRequests: a subscriber's keyframe request reaches
// the client's layer.
func TestForwardKeyframeRequests(t *testing.T) {
	r := newRig(t, nil)
	rm := r.publish(t)
	pipelinetest.Eventually(t, func() bool { return len(r.src.Keyframes()) == 1 }, "the first keyframe asked for")
	rm.RTPVideo().Spec.OnKeyframeRequest(0)
	require.Equal(t, []int{0, 0}, r.src.Keyframes())
}

// TestForwardEnds: a session whose client leaves before negotiating, or
// with an error, ends without joining or with that error.
func TestForwardEnds(t *testing.T) {
	r := newRig(t, nil)
	r.f.Close(nil)
	require.NoError(t, r.rep.WaitEnd(t))
	require.Zero(t, r.rooms.Attempts())

	r = newRig(t, nil)
	rm := r.publish(t)
	boom := errors.New("ICE failed")
	r.f.Close(boom)
	require.ErrorIs(t, r.rep.WaitEnd(t), boom)
	require.True(t, rm.Closed())

	r = newRig(t, &pipelinetest.Rooms{PublishErr: errors.New("refused")})
	r.configure(t, 1)
	r.video(0, vp8Key360)
	require.EqualError(t, r.rep.WaitEnd(t), "refused")
	require.True(t, r.rooms.Rooms()[0].Closed())
}

func TestForwardConfigureErrors(t *testing.T) {
	r := newRig(t, nil)
	require.Error(t, r.f.Configure(forward.Media{}))
	require.Error(t, r.f.Configure(forward.Media{Video: &forward.NegotiatedVideo{Layers: 4}}))
}

// TestForwardLongRejoin: a rejoin that takes longer than the no-media
// timeout does not end the session once back in the room while the client
// kept sending; silence still does.
func TestForwardLongRejoin(t *testing.T) {
	rooms := &pipelinetest.Rooms{JoinErr: func(n int) error {
		if n >= 2 && n <= 7 {
			return errors.New("connection refused")
		}
		return nil
	}}
	r := newRig(t, rooms)
	rm1 := r.publish(t)
	rm1.Disconnect(livekit.DisconnectReason_SERVER_SHUTDOWN, true)
	start := r.clock.Now()
	r.clock.Run(t, 100*time.Millisecond, time.Minute, func() bool {
		r.video(0, vp8Delta)
		return len(rooms.Rooms()) == 2
	})
	require.Greater(t, r.clock.Now().Sub(start), 30*time.Second)
	rm2 := rooms.Rooms()[1]
	pipelinetest.Eventually(t, func() bool { return rm2.RTPVideo() != nil }, "published again")
	back := r.clock.Now()
	r.clock.Run(t, 100*time.Millisecond, time.Minute, func() bool {
		r.video(0, vp8Delta)
		return r.clock.Now().Sub(back) > 5*time.Second
	})
	require.False(t, r.ended(), "the client kept sending")
	require.NotEmpty(t, rm2.RTPVideo().Packets(0))
	r.clock.Run(t, 100*time.Millisecond, time.Minute, r.ended)
	require.ErrorIs(t, r.rep.WaitEnd(t), pipeline.ErrNoMedia)
}
