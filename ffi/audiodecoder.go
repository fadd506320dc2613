//go:build cgo

package ffi

/*
#include "ffi.h"
*/
import "C"

// AudioDecoder decodes one audio stream (libavcodec). It is not safe for
// concurrent use.
type AudioDecoder struct {
	d decoder
}

// NewAudioDecoder opens a decoder for codec, one of CodecAAC, CodecMP3,
// CodecOpus, CodecVorbis, CodecFLAC, CodecMP2, CodecAC3, CodecEAC3,
// CodecPCMA, CodecPCMU or CodecPCM (the last three carry no rate or
// channel count: give them with [WithAudioParams]).
//
// extradata is the codec's private setup, as libavcodec expects it:
// AudioSpecificConfig for AAC (nil for ADTS), OpusHead for Opus, the three
// Xiph-laced headers for Vorbis, STREAMINFO for FLAC. When the stream does
// not carry its sample rate and channel count, give them with
// [WithAudioParams].
func NewAudioDecoder(codec Codec, extradata []byte, opts ...DecoderOption) (*AudioDecoder, error) {
	if !codec.IsAudio() {
		return nil, unsupported(codec, "not an audio codec")
	}
	a := &AudioDecoder{}
	if err := a.d.open(codec, extradata, newDecoderConfig(opts)); err != nil {
		return nil, err
	}
	return a, nil
}

// Decode decodes one packet with presentation time pts and returns the
// frames that became available, each carrying its pts (for codecs that
// output several frames per packet, libavcodec derives the later ones).
// The caller owns the frames and must Release each one.
func (a *AudioDecoder) Decode(data []byte, pts int64) ([]*AudioFrame, error) {
	var out []*AudioFrame
	err := a.d.decode(data, pts, false, func(f *C.AVFrame) {
		out = append(out, wrapAudioFrame(f))
	})
	if err != nil {
		releaseAudioFrames(out)
		return nil, err
	}
	return out, nil
}

// Flush drains the decoder and resets it, which stays usable.
func (a *AudioDecoder) Flush() ([]*AudioFrame, error) {
	var out []*AudioFrame
	err := a.d.flush(func(f *C.AVFrame) {
		out = append(out, wrapAudioFrame(f))
	})
	if err != nil {
		releaseAudioFrames(out)
		return nil, err
	}
	return out, nil
}

// Close frees the decoder. It is idempotent.
func (a *AudioDecoder) Close() {
	a.d.close()
}

// releaseAudioFrames releases frames collected before an error, so that a failed call
// hands nothing to the caller.
func releaseAudioFrames(frames []*AudioFrame) {
	for _, f := range frames {
		f.Release()
	}
}
