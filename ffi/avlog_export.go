//go:build cgo

package ffi

import "C"

// goAVLog is libav's log callback (see avlog.go); it may run on threads
// of libav's own.
//
//export goAVLog
func goAVLog(level C.int, line *C.char) {
	deliverAVLog(level, C.GoString(line))
}
