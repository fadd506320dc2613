//go:build cgo

package ffi

/*
#cgo pkg-config: libavcodec libavutil libswscale libswresample
#include "ffi.h"
*/
import "C"

import (
	"fmt"
)

// Flow-control codes from libav. They are negative errno values that cgo
// cannot compute from the AVERROR macros, hence the helpers.
var (
	avEAGAIN = C.ffi_eagain()
	avEOF    = C.ffi_eof()
	avENOMEM = C.ffi_enomem()
	avNoPTS  = int64(C.ffi_nopts())
)

// libavError is a negative libav return code; its message comes from
// av_strerror.
type libavError int

// Error returns av_strerror's message for the code.
func (e libavError) Error() string {
	var buf [128]C.char
	C.ffi_strerror(C.int(e), &buf[0], C.int(len(buf)))
	return C.GoString(&buf[0])
}

// avErr wraps a libav return code: "<who>: <op>: <av_strerror message>".
func avErr(who, op string, ret C.int) error {
	return fmt.Errorf("%s: %s: %w", who, op, libavError(ret))
}
