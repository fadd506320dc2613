//go:build !cgo

package ffi

// This file is the build without cgo: the same API, but every constructor
// returns ErrUnavailable, so callers compile and can report the condition.

// Available is false: this build links no codec library.
const Available = false

// Build reports that this build cannot transcode.
func Build() BuildInfo { return BuildInfo{} }

// VideoFrame is a decoded or raw picture. Without cgo none can be created.
type VideoFrame struct {
	// PTS is the presentation timestamp.
	PTS int64
	// Key is true when the decoder marked the frame as a keyframe.
	Key bool
}

// NewVideoFrame returns ErrUnavailable in this build.
func NewVideoFrame(width, height int) (*VideoFrame, error) { return nil, ErrUnavailable }

// Width returns 0 in this build.
func (v *VideoFrame) Width() int { return 0 }

// Height returns 0 in this build.
func (v *VideoFrame) Height() int { return 0 }

// Format returns "none" in this build.
func (v *VideoFrame) Format() string { return "none" }

// Planes returns no planes in this build.
func (v *VideoFrame) Planes() [3][]byte { return [3][]byte{} }

// Strides returns zeros in this build.
func (v *VideoFrame) Strides() [3]int { return [3]int{} }

// MakeWritable returns ErrUnavailable in this build.
func (v *VideoFrame) MakeWritable() error { return ErrUnavailable }

// Release does nothing in this build.
func (v *VideoFrame) Release() {}

// AudioFrame is a block of audio samples. Without cgo none can be created.
type AudioFrame struct {
	// PTS is the presentation timestamp.
	PTS int64
}

// NewAudioFrame returns ErrUnavailable in this build.
func NewAudioFrame(format SampleFormat, sampleRate, channels, nbSamples int) (*AudioFrame, error) {
	return nil, ErrUnavailable
}

// Format returns SampleFormatUnknown in this build.
func (a *AudioFrame) Format() SampleFormat { return SampleFormatUnknown }

// SampleRate returns 0 in this build.
func (a *AudioFrame) SampleRate() int { return 0 }

// Channels returns 0 in this build.
func (a *AudioFrame) Channels() int { return 0 }

// NumSamples returns 0 in this build.
func (a *AudioFrame) NumSamples() int { return 0 }

// Planes returns nil in this build.
func (a *AudioFrame) Planes() [][]byte { return nil }

// MakeWritable returns ErrUnavailable in this build.
func (a *AudioFrame) MakeWritable() error { return ErrUnavailable }

// Release does nothing in this build.
func (a *AudioFrame) Release() {}

// VideoDecoder decodes one video stream. Without cgo none can be created.
type VideoDecoder struct{}

// NewVideoDecoder returns ErrUnavailable in this build.
func NewVideoDecoder(codec Codec, extradata []byte, opts ...DecoderOption) (*VideoDecoder, error) {
	return nil, ErrUnavailable
}

// Decode returns ErrUnavailable in this build.
func (v *VideoDecoder) Decode(data []byte, pts int64) ([]*VideoFrame, error) {
	return nil, ErrUnavailable
}

// Flush returns ErrUnavailable in this build.
func (v *VideoDecoder) Flush() ([]*VideoFrame, error) { return nil, ErrUnavailable }

// Close does nothing in this build.
func (v *VideoDecoder) Close() {}

// AudioDecoder decodes one audio stream. Without cgo none can be created.
type AudioDecoder struct{}

// NewAudioDecoder returns ErrUnavailable in this build.
func NewAudioDecoder(codec Codec, extradata []byte, opts ...DecoderOption) (*AudioDecoder, error) {
	return nil, ErrUnavailable
}

// Decode returns ErrUnavailable in this build.
func (a *AudioDecoder) Decode(data []byte, pts int64) ([]*AudioFrame, error) {
	return nil, ErrUnavailable
}

// Flush returns ErrUnavailable in this build.
func (a *AudioDecoder) Flush() ([]*AudioFrame, error) { return nil, ErrUnavailable }

// Close does nothing in this build.
func (a *AudioDecoder) Close() {}

// Scaler resizes pictures. Without cgo none can be created.
type Scaler struct{}

// NewScaler returns ErrUnavailable in this build.
func NewScaler(srcW, srcH, dstW, dstH int, flags ScaleFlags) (*Scaler, error) {
	return nil, ErrUnavailable
}

// NewFrame returns ErrUnavailable in this build.
func (s *Scaler) NewFrame() (*VideoFrame, error) { return nil, ErrUnavailable }

// Scale returns ErrUnavailable in this build.
func (s *Scaler) Scale(src, dst *VideoFrame) error { return ErrUnavailable }

// Close does nothing in this build.
func (s *Scaler) Close() {}

// Resampler converts audio. Without cgo none can be created.
type Resampler struct{}

// NewResampler returns ErrUnavailable in this build.
func NewResampler(outRate, outChannels int, outFormat SampleFormat) (*Resampler, error) {
	return nil, ErrUnavailable
}

// Resample returns ErrUnavailable in this build.
func (r *Resampler) Resample(in *AudioFrame) ([]byte, error) { return nil, ErrUnavailable }

// Flush returns ErrUnavailable in this build.
func (r *Resampler) Flush() ([]byte, error) { return nil, ErrUnavailable }

// Delay returns 0 in this build.
func (r *Resampler) Delay() int64 { return 0 }

// Close does nothing in this build.
func (r *Resampler) Close() {}

// VideoEncoder encodes video. Without cgo none can be created.
type VideoEncoder struct{}

// NewVideoEncoder returns ErrUnavailable in this build.
func NewVideoEncoder(cfg VideoEncoderConfig) (*VideoEncoder, error) { return nil, ErrUnavailable }

// ForceKeyframe does nothing in this build.
func (e *VideoEncoder) ForceKeyframe() {}

// Encode returns ErrUnavailable in this build.
func (e *VideoEncoder) Encode(f *VideoFrame) ([]Packet, error) { return nil, ErrUnavailable }

// Flush returns ErrUnavailable in this build.
func (e *VideoEncoder) Flush() ([]Packet, error) { return nil, ErrUnavailable }

// Close does nothing in this build.
func (e *VideoEncoder) Close() {}

// OpusEncoder encodes Opus. Without cgo none can be created.
type OpusEncoder struct{}

// NewOpusEncoder returns ErrUnavailable in this build.
func NewOpusEncoder(cfg OpusEncoderConfig) (*OpusEncoder, error) { return nil, ErrUnavailable }

// Lookahead returns 0 in this build.
func (e *OpusEncoder) Lookahead() int { return 0 }

// Encode returns ErrUnavailable in this build.
func (e *OpusEncoder) Encode(samples []byte, pts int64) ([]Packet, error) {
	return nil, ErrUnavailable
}

// Flush returns ErrUnavailable in this build.
func (e *OpusEncoder) Flush() ([]Packet, error) { return nil, ErrUnavailable }

// Close does nothing in this build.
func (e *OpusEncoder) Close() {}

// SetLogLevel does nothing in this build.
func SetLogLevel(l LogLevel) {}
