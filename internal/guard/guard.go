// Package guard turns a panic in code that parses untrusted input (a
// demuxer, a depacketizer, a codec parameter parser) into an error of the
// one session that met it. Without it, one malformed stream would end the
// process and every other session with it.
package guard

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/livekit/protocol/logger"
)

// ErrPanic is wrapped by the errors Call returns for a panic.
var ErrPanic = errors.New("internal error")

// Call runs f and returns its error; a panic in f is returned as an error
// wrapping ErrPanic that names what was running (the session's ERROR
// reason), and logged with its stack for a bug report.
func Call(log logger.Logger, what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w in the %s: %v (the session was ended; the stream may be malformed — please report this with the log)", ErrPanic, what, r)
			if log != nil {
				log.Errorw("recovered from a panic: the session ends, the others go on", err, "stack", string(debug.Stack()))
			}
		}
	}()
	return f()
}
