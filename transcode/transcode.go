// Package transcode runs transcoding plans on the ffi binding: one video
// decode feeding a scale and an encode per simulcast layer, each layer on
// its own goroutine with its own keyframe requests (the top layer may be
// the source's own frames instead, see reuse.go); and any audio to Opus
// at 48 kHz in 20 ms frames. Output frames keep the source timing, so A/V
// sync holds downstream. It is the only importer of ffi.
package transcode

import (
	"fmt"

	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/media"
)

// ErrUnavailable is returned when the binary was built without cgo.
var ErrUnavailable = ffi.ErrUnavailable

// Available is false in the passthrough build (made without cgo): every
// constructor of the package then fails with ErrUnavailable.
const Available = ffi.Available

// Unavailable returns ErrUnavailable in the passthrough build, nil in a
// build that can transcode.
func Unavailable() error {
	if !Available {
		return ErrUnavailable
	}
	return nil
}

// BuildInfo describes the codec libraries linked into this binary.
type BuildInfo = ffi.BuildInfo

// Library is a linked library and its version, in BuildInfo.
type Library = ffi.Library

// Codec is a codec as BuildInfo names it.
type Codec = ffi.Codec

// Codecs as BuildInfo names them.
const (
	CodecH264 = ffi.CodecH264
	CodecAV1  = ffi.CodecAV1
	CodecMP3  = ffi.CodecMP3
)

// Build reports the codec libraries linked into this binary and the codecs
// they decode and encode (see ffi.Build).
func Build() BuildInfo { return ffi.Build() }

func ffiCodec(c media.CodecID) (ffi.Codec, error) {
	switch c {
	case media.CodecH264:
		return ffi.CodecH264, nil
	case media.CodecH265:
		return ffi.CodecHEVC, nil
	case media.CodecVP8:
		return ffi.CodecVP8, nil
	case media.CodecVP9:
		return ffi.CodecVP9, nil
	case media.CodecAV1:
		return ffi.CodecAV1, nil
	case media.CodecAAC:
		return ffi.CodecAAC, nil
	case media.CodecMP3:
		return ffi.CodecMP3, nil
	case media.CodecOpus:
		return ffi.CodecOpus, nil
	case media.CodecVorbis:
		return ffi.CodecVorbis, nil
	case media.CodecFLAC:
		return ffi.CodecFLAC, nil
	case media.CodecMPEG2Video:
		return ffi.CodecMPEG2Video, nil
	case media.CodecMP2:
		return ffi.CodecMP2, nil
	case media.CodecAC3:
		return ffi.CodecAC3, nil
	case media.CodecEAC3:
		return ffi.CodecEAC3, nil
	case media.CodecPCMA:
		return ffi.CodecPCMA, nil
	case media.CodecPCMU:
		return ffi.CodecPCMU, nil
	case media.CodecPCM:
		return ffi.CodecPCM, nil
	}
	return 0, fmt.Errorf("%w %s", ffi.ErrUnsupportedCodec, c)
}
