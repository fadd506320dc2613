//go:build cgo

package ffi

/*
#include <stdlib.h>
#include "ffi.h"
*/
import "C"

import "unsafe"

// avCodecIDs maps the package's codecs to libavcodec's.
var avCodecIDs = map[Codec]C.enum_AVCodecID{
	CodecH264:   C.AV_CODEC_ID_H264,
	CodecHEVC:   C.AV_CODEC_ID_HEVC,
	CodecVP8:    C.AV_CODEC_ID_VP8,
	CodecVP9:    C.AV_CODEC_ID_VP9,
	CodecAV1:    C.AV_CODEC_ID_AV1,
	CodecAAC:    C.AV_CODEC_ID_AAC,
	CodecMP3:    C.AV_CODEC_ID_MP3,
	CodecOpus:   C.AV_CODEC_ID_OPUS,
	CodecVorbis: C.AV_CODEC_ID_VORBIS,
	CodecFLAC:   C.AV_CODEC_ID_FLAC,

	CodecMPEG2Video: C.AV_CODEC_ID_MPEG2VIDEO,
	CodecMP2:        C.AV_CODEC_ID_MP2,
	CodecAC3:        C.AV_CODEC_ID_AC3,
	CodecEAC3:       C.AV_CODEC_ID_EAC3,
	CodecPCMA:       C.AV_CODEC_ID_PCM_ALAW,
	CodecPCMU:       C.AV_CODEC_ID_PCM_MULAW,
	CodecPCM:        C.AV_CODEC_ID_PCM_S16LE,
}

// preferredDecoders names decoders to try before libavcodec's default for
// an ID. FFmpeg 5.1's native "av1" decoder only works with a hardware
// accelerator, so AV1 goes to libdav1d.
var preferredDecoders = map[Codec]string{
	CodecAV1: "libdav1d",
}

// findDecoder returns the libavcodec decoder for c, or an
// ErrUnsupportedCodec error.
func findDecoder(c Codec) (*C.AVCodec, error) {
	id, ok := avCodecIDs[c]
	if !ok {
		return nil, unsupported(c, "")
	}
	if name, ok := preferredDecoders[c]; ok {
		cname := C.CString(name)
		dec := C.avcodec_find_decoder_by_name(cname)
		C.free(unsafe.Pointer(cname))
		if dec != nil {
			return dec, nil
		}
	}
	dec := C.avcodec_find_decoder(id)
	if dec == nil && c == CodecAV1 {
		// The static release build (scripts/ffmpeg-configure.txt) has no
		// libdav1d.
		return nil, unsupported(c, "no AV1 decoder in this build: it needs libdav1d; AV1 is still forwarded without transcoding")
	}
	if dec == nil {
		return nil, unsupported(c, "no decoder in this libavcodec")
	}
	return dec, nil
}

// sampleFormats maps the package's sample formats to libavutil's.
var sampleFormats = map[SampleFormat]C.enum_AVSampleFormat{
	SampleFormatU8:   C.AV_SAMPLE_FMT_U8,
	SampleFormatS16:  C.AV_SAMPLE_FMT_S16,
	SampleFormatS32:  C.AV_SAMPLE_FMT_S32,
	SampleFormatFLT:  C.AV_SAMPLE_FMT_FLT,
	SampleFormatDBL:  C.AV_SAMPLE_FMT_DBL,
	SampleFormatU8P:  C.AV_SAMPLE_FMT_U8P,
	SampleFormatS16P: C.AV_SAMPLE_FMT_S16P,
	SampleFormatS32P: C.AV_SAMPLE_FMT_S32P,
	SampleFormatFLTP: C.AV_SAMPLE_FMT_FLTP,
	SampleFormatDBLP: C.AV_SAMPLE_FMT_DBLP,
	SampleFormatS64:  C.AV_SAMPLE_FMT_S64,
	SampleFormatS64P: C.AV_SAMPLE_FMT_S64P,
}

func fromAVSampleFormat(f C.int) SampleFormat {
	for k, v := range sampleFormats {
		if C.int(v) == f {
			return k
		}
	}
	return SampleFormatUnknown
}
