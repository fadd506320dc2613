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

// Resampler converts audio of any format, rate and layout to interleaved
// S16 or FLT at a fixed rate and 1 or 2 channels (libswresample). It is not
// safe for concurrent use.
//
// The input parameters are taken from each frame: when they change (a
// 44.1 kHz source switching to 48 kHz, mono to stereo) the samples still
// buffered for the old input are drained first, then the context is
// rebuilt, so no audio is lost or duplicated.
type Resampler struct {
	swr         *C.SwrContext
	outRate     int
	outChannels int
	outFormat   SampleFormat
	outBPF      int // bytes per output sample frame (all channels)

	// current input parameters
	inFormat C.int
	inRate   C.int
	inLayout C.AVChannelLayout

	buf    []byte // reused output buffer
	closed bool
}

// NewResampler prepares a resampler producing outChannels (1 or 2)
// interleaved channels of outFormat (SampleFormatS16 or SampleFormatFLT) at
// outRate Hz (48000 for Opus).
func NewResampler(outRate, outChannels int, outFormat SampleFormat) (*Resampler, error) {
	if outFormat != SampleFormatS16 && outFormat != SampleFormatFLT {
		return nil, fmt.Errorf("resampler: output format %s not supported (want s16 or flt)", outFormat)
	}
	if outChannels != 1 && outChannels != 2 {
		return nil, fmt.Errorf("resampler: %d output channels not supported (want 1 or 2)", outChannels)
	}
	if outRate <= 0 {
		return nil, fmt.Errorf("resampler: invalid output rate %d", outRate)
	}
	return &Resampler{
		outRate:     outRate,
		outChannels: outChannels,
		outFormat:   outFormat,
		outBPF:      outChannels * outFormat.BytesPerSample(),
	}, nil
}

// Resample converts in and returns the interleaved output samples available
// so far (len/(channels*bytes per sample) of them; possibly none while the
// filter fills). The returned slice is reused: it is valid until the next
// call on r.
//
// Timing: the filter holds back Delay() output samples, so after the call
// the last returned sample corresponds to the input instant
// (end of in) − Delay()/outRate seconds. Counting output samples from the
// first frame's timestamp is exact, including across 44.1 → 48 kHz.
func (r *Resampler) Resample(in *AudioFrame) ([]byte, error) {
	if r.closed {
		return nil, fmt.Errorf("resampler: %w", errClosed)
	}
	if in.f == nil {
		return nil, fmt.Errorf("resampler: %w", errReleased)
	}
	r.buf = r.buf[:0]
	if r.swr == nil || r.inputChanged(in.f) {
		if r.swr != nil {
			if err := r.drain(); err != nil {
				return nil, err
			}
		}
		if err := r.init(in.f); err != nil {
			return nil, err
		}
	}
	if err := r.convert(in.f); err != nil {
		return nil, err
	}
	return r.buf, nil
}

// Flush returns the samples still buffered in the filter (end of stream).
// The returned slice is valid until the next call on r.
func (r *Resampler) Flush() ([]byte, error) {
	if r.closed {
		return nil, fmt.Errorf("resampler: %w", errClosed)
	}
	r.buf = r.buf[:0]
	if r.swr == nil {
		return r.buf, nil
	}
	if err := r.drain(); err != nil {
		return nil, err
	}
	return r.buf, nil
}

// Delay returns the number of output samples buffered in the filter.
func (r *Resampler) Delay() int64 {
	if r.swr == nil {
		return 0
	}
	return int64(C.swr_get_delay(r.swr, C.int64_t(r.outRate)))
}

func (r *Resampler) inputChanged(f *C.AVFrame) bool {
	return f.format != r.inFormat || f.sample_rate != r.inRate ||
		C.av_channel_layout_compare(&f.ch_layout, &r.inLayout) != 0
}

func (r *Resampler) init(f *C.AVFrame) error {
	if f.sample_rate <= 0 || f.ch_layout.nb_channels <= 0 {
		return fmt.Errorf("resampler: invalid input: %d Hz, %d channels", f.sample_rate, f.ch_layout.nb_channels)
	}
	outFmt := sampleFormats[r.outFormat]
	ret := C.ffi_swr_init(&r.swr, &f.ch_layout, f.format, f.sample_rate,
		C.int(r.outChannels), C.int(outFmt), C.int(r.outRate))
	if ret < 0 {
		return avErr("resampler", fmt.Sprintf("init from %d Hz %d channels %s",
			f.sample_rate, f.ch_layout.nb_channels, fromAVSampleFormat(f.format)), ret)
	}
	C.av_channel_layout_uninit(&r.inLayout)
	if ret := C.av_channel_layout_copy(&r.inLayout, &f.ch_layout); ret < 0 {
		return avErr("resampler", "copy channel layout", ret)
	}
	r.inFormat = f.format
	r.inRate = f.sample_rate
	return nil
}

// convert appends the output for f (nil: drain) to r.buf.
func (r *Resampler) convert(f *C.AVFrame) error {
	var inSamples C.int
	if f != nil {
		inSamples = f.nb_samples
	}
	capSamples := int(C.swr_get_out_samples(r.swr, inSamples))
	if capSamples < 0 {
		return avErr("resampler", "get output size", C.int(capSamples))
	}
	if capSamples == 0 {
		return nil
	}
	start := len(r.buf)
	need := start + capSamples*r.outBPF
	if cap(r.buf) < need {
		nb := make([]byte, start, need+need/2)
		copy(nb, r.buf)
		r.buf = nb
	}
	r.buf = r.buf[:need]
	n := C.ffi_swr_convert(r.swr, (*C.uint8_t)(unsafe.Pointer(&r.buf[start])), C.int(capSamples), f)
	if n < 0 {
		r.buf = r.buf[:start]
		return avErr("resampler", "convert", n)
	}
	r.buf = r.buf[:start+int(n)*r.outBPF]
	return nil
}

func (r *Resampler) drain() error {
	return r.convert(nil)
}

// Close frees the resampler. It is idempotent.
func (r *Resampler) Close() {
	r.closed = true
	if r.swr != nil {
		C.ffi_swr_free(r.swr)
		r.swr = nil
	}
	C.av_channel_layout_uninit(&r.inLayout)
}
