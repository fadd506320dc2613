//go:build cgo

package ffi

/*
#include "ffi.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// AudioFrame is a block of decoded or raw audio samples: a handle to a
// reference-counted libav AVFrame whose samples live in C memory.
//
// Ownership is as for [VideoFrame]: Release exactly when done (idempotent);
// slices from Planes are valid until Release.
type AudioFrame struct {
	f *C.AVFrame
	// PTS is the presentation timestamp, in the units of the pts given to
	// the decoder (or set by the caller).
	PTS int64
}

// NewAudioFrame allocates a frame holding nbSamples samples per channel,
// with the default channel layout for channels. Release it when done.
func NewAudioFrame(format SampleFormat, sampleRate, channels, nbSamples int) (*AudioFrame, error) {
	avf, ok := sampleFormats[format]
	if !ok {
		return nil, fmt.Errorf("audio frame: unsupported sample format %s", format)
	}
	if sampleRate <= 0 || channels <= 0 || nbSamples <= 0 {
		return nil, fmt.Errorf("audio frame: invalid parameters: %d Hz, %d channels, %d samples", sampleRate, channels, nbSamples)
	}
	var ret C.int
	f := C.ffi_audio_frame(C.int(avf), C.int(sampleRate), C.int(channels), C.int(nbSamples), &ret)
	if f == nil {
		return nil, avErr("audio frame", "allocate", ret)
	}
	return &AudioFrame{f: f}, nil
}

func wrapAudioFrame(f *C.AVFrame) *AudioFrame {
	return &AudioFrame{f: f, PTS: int64(C.ffi_frame_pts(f))}
}

// Format returns the sample format; decoders choose it (AAC, Opus and
// Vorbis decode to SampleFormatFLTP).
func (a *AudioFrame) Format() SampleFormat {
	if a.f == nil {
		return SampleFormatUnknown
	}
	return fromAVSampleFormat(a.f.format)
}

// SampleRate in Hz; 0 after Release.
func (a *AudioFrame) SampleRate() int {
	if a.f == nil {
		return 0
	}
	return int(a.f.sample_rate)
}

// Channels returns the channel count; 0 after Release.
func (a *AudioFrame) Channels() int {
	if a.f == nil {
		return 0
	}
	return int(a.f.ch_layout.nb_channels)
}

// NumSamples returns the number of samples per channel; 0 after Release.
func (a *AudioFrame) NumSamples() int {
	if a.f == nil {
		return 0
	}
	return int(a.f.nb_samples)
}

// Planes returns the sample data as slices over C memory, valid until
// Release: one plane per channel for planar formats, a single interleaved
// plane otherwise. Each slice holds exactly NumSamples samples.
func (a *AudioFrame) Planes() [][]byte {
	if a.f == nil {
		return nil
	}
	bps := int(C.av_get_bytes_per_sample(C.enum_AVSampleFormat(a.f.format)))
	ch := a.Channels()
	n := a.NumSamples()
	if C.av_sample_fmt_is_planar(C.enum_AVSampleFormat(a.f.format)) == 0 {
		return [][]byte{unsafe.Slice((*byte)(unsafe.Pointer(C.ffi_frame_data(a.f, 0))), n*ch*bps)}
	}
	p := make([][]byte, ch)
	for i := range p {
		p[i] = unsafe.Slice((*byte)(unsafe.Pointer(C.ffi_frame_data(a.f, C.int(i)))), n*bps)
	}
	return p
}

// MakeWritable makes sure the frame's buffers are not shared, copying them
// if needed. Slices from earlier Planes calls are stale afterwards.
func (a *AudioFrame) MakeWritable() error {
	if a.f == nil {
		return errReleased
	}
	if ret := C.av_frame_make_writable(a.f); ret < 0 {
		return avErr("audio frame", "make writable", ret)
	}
	return nil
}

// Release frees the frame's reference to its buffers. It is idempotent.
func (a *AudioFrame) Release() {
	if a.f != nil {
		C.ffi_frame_free(a.f)
		a.f = nil
	}
}
