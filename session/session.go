// Package session runs one ingest session: it receives the tracks and
// frames an input demuxes, decides per track between passthrough and
// transcoding from what the source really contains and what the ingress
// asks, joins the room, and drives the frames to it, reporting the
// session's state as it goes.
//
// It knows neither the protocol of the input nor the service that stores
// ingress records: both are reached through small interfaces, so a session
// can later run in a child process.
package session

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
	Logger logger.Logger
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
	Reporter    Reporter
	Transcoders Transcoders
	// Room has the server URL and credentials; the room name and the
	// participant come from the ingress record.
	Room room.Config
	// Live is true for pushed inputs (RTMP, WHIP, SRT listener): frames
	// that cannot be queued are dropped rather than blocking the input.
	// File inputs block instead, so they are read at real-time speed.
	Live bool
	// TrackWait is how long to wait for the second track after the first
	// before starting with one (default 2 s).
	TrackWait time.Duration
	// NoMediaTimeout fails the session when no frame arrives for this long
	// after the start (default 10 s).
	NoMediaTimeout time.Duration
	// Stats, when set, receives the session's media counters (metrics).
	Stats *Stats
}
