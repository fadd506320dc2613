//go:build cgo

package ffi

/*
#cgo pkg-config: vpx
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <opus.h>
#include <vpx/vpx_codec.h>
// x264.h is read for its version macros only; libx264 itself is linked
// through libavcodec (and is the same -dev package's library).
#include <x264.h>
#include "ffi.h"

static inline const char *ffi_x264_version(void) { return X264_POINTVER; }

// ffi_avcodec_file names the file libavcodec's code was loaded from: the
// executable when it is linked statically.
static inline const char *ffi_avcodec_file(void) {
	Dl_info info;
	if (dladdr((void *)avcodec_version, &info) == 0 || info.dli_fname == NULL) {
		return "";
	}
	return info.dli_fname;
}
*/
import "C"

import (
	"fmt"
	"path/filepath"
	"strings"
	"unsafe"
)

// Available is true when the package was built with cgo: the codec
// libraries are linked (which codecs they hold is in [Build]).
const Available = true

// Build reports what this build links, from the libraries themselves.
func Build() BuildInfo {
	b := BuildInfo{
		Transcoding:    true,
		LibavcodecPath: C.GoString(C.ffi_avcodec_file()),
		Decoders:       map[Codec]string{},
		Encoders:       map[Codec]string{},
	}
	b.Static = !strings.HasPrefix(filepath.Base(b.LibavcodecPath), "libavcodec")
	b.Libraries = []Library{
		{"FFmpeg", C.GoString(C.av_version_info())},
		{"libavcodec", libVersion(uint(C.avcodec_version()))},
		{"libavutil", libVersion(uint(C.avutil_version()))},
		{"libswscale", libVersion(uint(C.swscale_version()))},
		{"libswresample", libVersion(uint(C.swresample_version()))},
		{"x264", C.GoString(C.ffi_x264_version())},
		{"libvpx", C.GoString(C.vpx_codec_version_str())},
		{"libopus", strings.TrimPrefix(C.GoString(C.opus_get_version_string()), "libopus ")},
	}
	for _, c := range Codecs() {
		if dec, err := findDecoder(c); err == nil {
			b.Decoders[c] = C.GoString(dec.name)
		} else {
			b.Decoders[c] = ""
		}
	}
	for c, name := range encoderNames {
		b.Encoders[c] = ""
		if hasEncoder(name) {
			b.Encoders[c] = name
		}
	}
	b.Encoders[CodecOpus] = "libopus" // linked directly, see OpusEncoder
	return b
}

// libVersion formats an AV_VERSION_INT: major.minor.micro.
func libVersion(v uint) string {
	return fmt.Sprintf("%d.%d.%d", v>>16, v>>8&0xff, v&0xff)
}

// hasEncoder tells whether the linked libavcodec has the named encoder.
func hasEncoder(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.avcodec_find_encoder_by_name(cname) != nil
}
