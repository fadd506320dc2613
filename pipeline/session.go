// Package pipeline runs one ingest session: the pipeline between an input
// and the room. A Session waits until it knows what to publish, joins the
// room, publishes, rejoins after a final disconnect, watches for a source
// that went silent, refreshes the input state and reports the session's
// end — whatever carries the media. A Strategy carries it:
//
//   - this package's frame strategy (Start), for inputs that demux frames
//     (RTMP, SRT, URL, WHIP with transcoding): per track, transcoded into
//     simulcast layers or forwarded as they are, released on one media
//     clock through paced writers;
//   - session/forward (forward.Start), for WebRTC sources (WHIP): RTP
//     packets forwarded as they arrive, simulcast layers included.
//
// It knows neither the protocol of the input nor the service that stores
// ingress records: both are reached through small interfaces (Reporter,
// and the input's own methods), and so are the room (Rooms) and time
// (Clock), which tests replace (see session/sessiontest).
package pipeline

import (
	"context"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/room"
	"github.com/tributary-ingress/tributary/simulcast"
)

// Reporter is where a session reports its state (the service's session
// record implements it).
type Reporter interface {
	Info() *livekit.IngressInfo
	ResourceID() string
	Logger() logger.Logger
	// Context is cancelled when the session must stop; its cause says why.
	Context() context.Context
	SetPublishing() error
	SetInputVideo(*livekit.InputVideoState) error
	SetInputAudio(*livekit.InputAudioState) error
	SetRoomID(string) error
	AddTrack(*livekit.TrackInfo) error
	// Warn reports a problem the streamer should fix while the session
	// goes on (audio the build cannot publish): the state's error field
	// holds it, the status does not change.
	Warn(error) error
	Fail(error) error
	End() error
}

// VideoTranscoder decodes a source video track and encodes simulcast
// layers; output frames keep the source PTS.
type VideoTranscoder interface {
	Write(f *media.Frame) error
	RequestKeyframe(layer int)
	// SetLayerActive pauses or resumes a layer's scaling and encoding; a
	// resumed layer starts with a keyframe.
	SetLayerActive(layer int, active bool)
	Close() error
}

// AudioTranscoder turns any audio into Opus frames of 20 ms at 48 kHz.
type AudioTranscoder interface {
	Write(f *media.Frame) error
	Close() error
}

// VideoTranscodeConfig configures a VideoTranscoder.
type VideoTranscodeConfig struct {
	Source    *media.Track
	Codec     media.CodecID // output: H264 or VP8
	FrameRate float64       // upper bound of the output frame rate
	// Layers are the plan's layers (their nominal boxes), one per
	// published layer; the transcoder sizes them for the source.
	Layers []simulcast.Layer
	// Output receives each encoded frame of a layer (index into Layers).
	// It is called from the layer's own goroutine.
	Output func(layer int, f *media.Frame)
	// OnDrop is called for every frame or picture the transcoder drops
	// for want of room, from any goroutine: they count in the session's
	// dropped frames (Stats.DroppedFrames).
	OnDrop func()
	// OnStale is called for every decoded picture the transcoder skips
	// as too old to encode, from any goroutine: they count in the
	// session's late pictures (Stats.LatePictures).
	OnStale func()
	Logger  logger.Logger
}

// AudioTranscodeConfig configures an AudioTranscoder.
type AudioTranscodeConfig struct {
	Source   *media.Track
	Channels int
	Bitrate  int
	DTX      bool
	Output   func(f *media.Frame)
	Logger   logger.Logger
}

// Transcoders makes transcoders.
type Transcoders interface {
	NewVideo(VideoTranscodeConfig) (VideoTranscoder, error)
	NewAudio(AudioTranscodeConfig) (AudioTranscoder, error)
	// Unavailable returns why this binary cannot transcode at all (the
	// passthrough build, made without cgo), or nil. The session then
	// decides before joining the room: a session that needs a video
	// transcoder ends in ERROR with this reason, and audio that would
	// need one is left out (see Session.withoutTranscoding).
	Unavailable() error
}

// Config configures a session.
type Config struct {
	Reporter Reporter
	// Transcoders makes the frame strategy's transcoders; unused by a
	// strategy that does not transcode (session/forward).
	Transcoders Transcoders
	// RoomConn has the server URL and credentials; the room name and the
	// participant come from the ingress record.
	Room room.Config
	// Rooms joins the room; nil joins the LiveKit server at RoomConn.URL
	// (LiveKitRooms). Tests inject a fake room.
	Rooms Rooms
	// Clock is the session's time; nil is the real clock. Tests inject a
	// fake one.
	Clock Clock
	// Live is true for pushed inputs (RTMP, WHIP, SRT listener): frames
	// that cannot be queued are dropped rather than blocking the input.
	// File inputs block instead, so they are read at real-time speed.
	Live bool
	// TrackWait is how long the frame strategy waits for the second track
	// after the first before starting with one (default 2 s).
	TrackWait time.Duration
	// NoMediaTimeout fails the session when no media arrives for this long
	// after the start (default 10 s).
	NoMediaTimeout time.Duration
	// Stats, when set, receives the session's media counters (metrics).
	Stats *Stats
	// TranscodeDelay pins the release delay of a transcoding session
	// (config transcode_delay); 0 adapts it, for a live source, to the
	// time the transcoder takes (see releaseDelay).
	TranscodeDelay time.Duration
}
