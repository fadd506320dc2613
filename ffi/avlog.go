//go:build cgo

package ffi

/*
#include <libavutil/log.h>

extern void goAVLog(int level, char *line);

// tributary_av_log hands each message libav would print to Go, formatted
// as libav formats it ("[libx264 @ 0x…] …").
static void tributary_av_log(void *avcl, int level, const char *fmt, va_list vl) {
	if (level > av_log_get_level()) {
		return;
	}
	char line[1024];
	int print_prefix = 1;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
	goAVLog(level, line);
}

static void tributary_av_log_route(int on) {
	av_log_set_callback(on ? tributary_av_log : av_log_default_callback);
}
*/
import "C"

import (
	"strings"
	"sync/atomic"
)

var logFunc atomic.Pointer[func(LogLevel, string)]

// SetLogFunc sends the messages of the FFmpeg libraries (and of libx264
// through them) to f instead of stderr, process-wide, so that they come
// out in the process's own log format; nil restores stderr. SetLogLevel
// still chooses which messages there are.
func SetLogFunc(f func(level LogLevel, msg string)) {
	if f == nil {
		logFunc.Store(nil)
		C.tributary_av_log_route(0)
		return
	}
	logFunc.Store(&f)
	C.tributary_av_log_route(1)
}

func deliverAVLog(level C.int, line string) {
	f := logFunc.Load()
	msg := strings.TrimSpace(line)
	if f == nil || msg == "" {
		return
	}
	l := LogInfo
	switch {
	case level <= C.AV_LOG_ERROR:
		l = LogError
	case level <= C.AV_LOG_WARNING:
		l = LogWarning
	}
	(*f)(l, msg)
}
