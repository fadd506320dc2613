//go:build cgo

package ffi

/*
#include "ffi.h"
*/
import "C"

// VideoDecoder decodes one video stream (libavcodec). It is not safe for
// concurrent use.
type VideoDecoder struct {
	d decoder
}

// NewVideoDecoder opens a decoder for codec, one of CodecH264, CodecHEVC,
// CodecVP8, CodecVP9, CodecAV1 or CodecMPEG2Video.
//
// extradata is handed to libavcodec as is. For H.264/HEVC, nil or Annex-B
// parameter sets mean packets are Annex-B; an avcC/hvcC record means packets
// are length-prefixed (AVCC). For AV1 it may be an av1C record; VP8/VP9 need
// none. For MPEG-2 it may be a sequence header (with its extension), which
// lets decoding start at an I-picture that does not repeat it.
//
// Frame threading is off unless [WithFrameThreads] is given, so a frame
// comes out as soon as the bitstream's reorder depth allows.
func NewVideoDecoder(codec Codec, extradata []byte, opts ...DecoderOption) (*VideoDecoder, error) {
	if !codec.IsVideo() {
		return nil, unsupported(codec, "not a video codec")
	}
	v := &VideoDecoder{}
	if err := v.d.open(codec, extradata, newDecoderConfig(opts)); err != nil {
		return nil, err
	}
	return v, nil
}

// Decode decodes one access unit (Annex-B for H.264/HEVC unless extradata
// said otherwise; one raw frame for VP8, VP9 and AV1) with presentation time
// pts, and returns the frames that became available, in presentation order,
// each carrying the pts of the packet it came from. Because of reordering a
// call may return no frame, or several.
//
// The caller owns the returned frames and must Release each one. On a
// bitstream error the error names the codec and libav's message
// ("h264 decoder: send packet: Invalid data found when processing input");
// the decoder stays usable. On error no frames are returned.
func (v *VideoDecoder) Decode(data []byte, pts int64) ([]*VideoFrame, error) {
	var out []*VideoFrame
	err := v.d.decode(data, pts, false, func(f *C.AVFrame) {
		out = append(out, wrapVideoFrame(f))
	})
	if err != nil {
		releaseVideoFrames(out)
		return nil, err
	}
	return out, nil
}

// Flush drains the frames still held for reordering (end of stream, or
// before a discontinuity) and resets the decoder, which stays usable.
func (v *VideoDecoder) Flush() ([]*VideoFrame, error) {
	var out []*VideoFrame
	err := v.d.flush(func(f *C.AVFrame) {
		out = append(out, wrapVideoFrame(f))
	})
	if err != nil {
		releaseVideoFrames(out)
		return nil, err
	}
	return out, nil
}

// Close frees the decoder. It is idempotent. Frames already returned stay
// valid until released.
func (v *VideoDecoder) Close() {
	v.d.close()
}

// releaseVideoFrames releases frames collected before an error, so that a failed call
// hands nothing to the caller.
func releaseVideoFrames(frames []*VideoFrame) {
	for _, f := range frames {
		f.Release()
	}
}
