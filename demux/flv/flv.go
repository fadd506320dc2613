// Package flv turns FLV into media tracks and frames: whole .flv files and
// streams through Reader, and the tag bodies an RTMP server receives
// through Demuxer, which is what Reader drives.
//
// Supported: H.264 (codec id 7), AAC (sound format 10), MP3 (sound format
// 2), and Enhanced RTMP v1/v2 (video FourCC avc1, hvc1, av01, vp09; audio
// FourCC mp4a, Opus, .mp3; ModEx timestamp offsets; the default track of
// multitrack packets). H.265 under the non-standard codec id 12 used by
// some Chinese CDNs is accepted too. Anything else is reported with
// demux.ErrUnsupportedCodec so a session can tell the streamer why.
//
// Timestamps: FLV's are 32-bit milliseconds. They are unwrapped on one
// timeline shared by audio and video (so the two stay in sync), jumps larger
// than MaxTimestampJump are treated as discontinuities and removed, and
// they are converted to 90 kHz for video and to the sample rate for audio.
// Video PTS = DTS + composition time offset.
//
// The package does no I/O beyond io.Reader and starts no goroutines.
//
// Specification: Adobe Flash Video File Format Specification v10.1, Annex
// E; Enhanced RTMP v1 and v2 (veovera/enhanced-rtmp).
package flv

import (
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/demux"
)

// Track IDs of the demuxer's tracks. FLV has at most one of each kind (the
// default track of Enhanced RTMP multitrack).
const (
	VideoTrackID = 1
	AudioTrackID = 2
)

const (
	// MaxTagSize bounds one tag body: the largest access unit we accept
	// (h264.MaxAccessUnitSize, 8 MiB) plus the largest tag header
	// (Enhanced RTMP ModEx and multitrack headers are a few dozen bytes).
	MaxTagSize = h264.MaxAccessUnitSize + 1024

	// MaxTimestampJump is the largest change between consecutive tag
	// timestamps taken at face value. Encoders that restart or switch
	// sources jump by more; the jump is removed so the timeline stays
	// continuous. Legitimate A/V interleaving stays far below it.
	MaxTimestampJump = 10_000 // ms

	// VideoClockRate is the clock rate of video frames.
	VideoClockRate = 90000
)

// errs builds the errors of this package (demux.ErrMalformed,
// demux.ErrTruncated, demux.ErrUnsupportedCodec, …), which name the
// container "FLV".
const errs = demux.Container("FLV")

// Stats counts what the demuxer dropped or repaired.
type Stats struct {
	VideoFrames uint64
	AudioFrames uint64
	// DroppedBeforeConfig counts frames that arrived before the sequence
	// header of their codec.
	DroppedBeforeConfig uint64
	// DroppedEmpty counts coded-frame packets without payload.
	DroppedEmpty uint64
	// DroppedOtherTracks counts Enhanced RTMP multitrack packets for
	// tracks other than the default one (track 0).
	DroppedOtherTracks uint64
	// Discontinuities counts timestamp jumps larger than MaxTimestampJump.
	Discontinuities uint64
}
