//go:build cgo

package ffi

/*
#include "ffi.h"
*/
import "C"

var avLogLevels = map[LogLevel]C.int{
	LogQuiet:   C.AV_LOG_QUIET,
	LogError:   C.AV_LOG_ERROR,
	LogWarning: C.AV_LOG_WARNING,
	LogInfo:    C.AV_LOG_INFO,
}

// SetLogLevel sets the level of the messages the FFmpeg libraries (and
// libx264 through them) write to stderr, process-wide. libav's default is
// LogInfo; a server facing untrusted streams will want LogQuiet or LogError,
// since every corrupt packet is also reported as a returned error.
func SetLogLevel(l LogLevel) {
	if v, ok := avLogLevels[l]; ok {
		C.av_log_set_level(v)
	}
}
