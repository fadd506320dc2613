// Package simulcast turns an ingress's encoding settings into a concrete
// transcoding plan, and checks them on the way.
//
// It is pure planning: no media, no cgo, no I/O. The inputs are the LiveKit
// protocol messages livekit.IngressVideoOptions and livekit.IngressAudioOptions
// (a preset or custom options); the outputs are a VideoPlan (codec, frame
// rate, simulcast layer ladder) and an AudioPlan (Opus channels, bitrate,
// DTX). VideoPlan.Fit then adapts the ladder to the resolution of the actual
// source, the way LiveKit's official ingress does once the decoder reports
// the source caps.
//
// Compatibility target: livekit/ingress pkg/params (presets.go, params.go) and
// pkg/media/webrtc_sink.go (layer fitting), revision 19017c82, and the
// consistency rules of livekit/protocol ingress/validation.go (v1.54.0). The
// numbers here are the upstream numbers; where we deliberately deviate (we
// reject input upstream would turn into garbage or a panic) the code says so.
//
// Every validation error is a *FieldError naming the offending field; it
// wraps ErrInvalidOptions, so callers map it to an InvalidArgument code with
// errors.Is, or read the field with errors.As.
package simulcast

import (
	"github.com/livekit/protocol/livekit"
)

// Layer is one output video layer of a simulcast ladder.
type Layer struct {
	// Quality is the simulcast quality this layer is published as
	// (LOW, MEDIUM or HIGH).
	Quality livekit.VideoQuality
	// Width and Height are the output dimensions in pixels, always even.
	Width, Height uint32
	// Bitrate is the target encoder bitrate in bits per second.
	Bitrate uint32
}

// VideoPlan is the resolved video encoding of an ingress.
type VideoPlan struct {
	// Codec is livekit.VideoCodec_H264_BASELINE or livekit.VideoCodec_VP8,
	// never DEFAULT_VC.
	Codec livekit.VideoCodec
	// FrameRate is the output frame rate ceiling in frames per second
	// (always > 0). Upstream feeds it to GStreamer videorate's max-rate
	// truncated to an integer: sources slower than this are not upsampled.
	FrameRate float64
	// Layers is the nominal ladder, ordered LOW → HIGH by quality, at most
	// one layer per quality. Use Fit to get the layers for a given source.
	Layers []Layer
}

// AudioPlan is the resolved audio encoding of an ingress. The codec is
// always Opus (48 kHz).
type AudioPlan struct {
	// Channels is 1 (mono) or 2 (stereo). A stereo plan publishes the track
	// as stereo.
	Channels uint32
	// Bitrate is the Opus target bitrate in bits per second (never 0).
	Bitrate uint32
	// DisableDTX turns off Opus discontinuous transmission, which is on by
	// default.
	DisableDTX bool
}

// TotalBitrate returns the sum of the nominal bitrates of all layers, in bits
// per second. Upstream sizes its publisher pacer at twice the sum of the
// video layers' and the audio bitrates.
func (p VideoPlan) TotalBitrate() uint64 {
	var sum uint64
	for _, l := range p.Layers {
		sum += uint64(l.Bitrate)
	}
	return sum
}
