package pipeline

import (
	"context"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtp"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/room"
)

// Rooms joins rooms: LiveKitRooms, or a fake room in tests.
type Rooms interface {
	// Join connects as the participant c describes; it fails with the
	// server's reason when the room cannot be joined.
	Join(ctx context.Context, c room.Config) (RoomConn, error)
}

// RoomConn is a joined room as a session uses it (room.Room on a LiveKit
// server).
type RoomConn interface {
	// SID is the room's ID.
	SID() string
	// Disconnected is closed when the connection is gone for good.
	Disconnected() <-chan struct{}
	// DisconnectReason tells why, and whether joining again makes sense.
	DisconnectReason() (reason livekit.DisconnectReason, retry bool)
	// SetAttributes updates the participant's attributes.
	SetAttributes(map[string]string)
	// PublishVideo and PublishAudio publish tracks fed with frames.
	PublishVideo(room.VideoSpec) (VideoSink, error)
	PublishAudio(room.AudioSpec) (AudioSink, error)
	// PublishVideoRTP and PublishAudioRTP publish tracks fed with the RTP
	// packets of a WebRTC source.
	PublishVideoRTP(room.RTPVideoSpec) (RTPVideoSink, error)
	PublishAudioRTP(room.RTPAudioSpec) (RTPAudioSink, error)
	// Close unpublishes everything and leaves; it is idempotent.
	Close()
}

// VideoSink is a published video track fed with frames (room.VideoTrack).
type VideoSink interface {
	TrackInfo() *livekit.TrackInfo
	WriteFrame(layer int, f *media.Frame) error
	// LayerEnabled reports whether a subscriber receives the layer
	// (dynacast).
	LayerEnabled(layer int) bool
}

// AudioSink is a published Opus track fed with frames (room.AudioTrack).
type AudioSink interface {
	TrackInfo() *livekit.TrackInfo
	WriteFrame(f *media.Frame) error
}

// RTPVideoSink is a published video track fed with RTP packets
// (room.RTPVideoTrack).
type RTPVideoSink interface {
	TrackInfo() *livekit.TrackInfo
	WriteRTP(layer int, p *rtp.Packet) error
}

// RTPAudioSink is a published audio track fed with RTP packets
// (room.RTPAudioTrack).
type RTPAudioSink interface {
	TrackInfo() *livekit.TrackInfo
	WriteRTP(p *rtp.Packet) error
}

// LiveKitRooms joins rooms on the LiveKit server (room.Join); it is the
// Rooms of a session whose Config names none.
type LiveKitRooms struct{}

// Join implements Rooms.
func (LiveKitRooms) Join(ctx context.Context, c room.Config) (RoomConn, error) {
	r, err := room.Join(ctx, c)
	if err != nil {
		return nil, err
	}
	return liveKitRoom{r}, nil
}

// liveKitRoom is a room.Room as a RoomConn: its publish methods return the
// track types as interfaces (never a typed nil).
type liveKitRoom struct{ *room.Room }

func (r liveKitRoom) PublishVideo(spec room.VideoSpec) (VideoSink, error) {
	t, err := r.Room.PublishVideo(spec)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (r liveKitRoom) PublishAudio(spec room.AudioSpec) (AudioSink, error) {
	t, err := r.Room.PublishAudio(spec)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (r liveKitRoom) PublishVideoRTP(spec room.RTPVideoSpec) (RTPVideoSink, error) {
	t, err := r.Room.PublishVideoRTP(spec)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (r liveKitRoom) PublishAudioRTP(spec room.RTPAudioSpec) (RTPAudioSink, error) {
	t, err := r.Room.PublishAudioRTP(spec)
	if err != nil {
		return nil, err
	}
	return t, nil
}
