package url

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// idleBody is a response body whose reads end with ErrStalled when the
// origin sends nothing for idle: an origin that sends the headers and a
// few bytes, then nothing, would otherwise hold the session until it is
// deleted. The deadline runs only while a Read waits, so a reader that
// pauses between reads (the sink playing in real time) is never cut off.
type idleBody struct {
	rc      io.ReadCloser
	idle    time.Duration
	cancel  context.CancelCauseFunc // of the request: closes the connection
	timer   *time.Timer
	stalled atomic.Bool
}

func newIdleBody(rc io.ReadCloser, idle time.Duration, cancel context.CancelCauseFunc) *idleBody {
	b := &idleBody{rc: rc, idle: idle, cancel: cancel}
	b.timer = time.AfterFunc(idle, b.fire)
	b.timer.Stop()
	return b
}

func (b *idleBody) fire() {
	b.stalled.Store(true)
	b.cancel(b.err())
}

func (b *idleBody) err() error {
	return fmt.Errorf("%w for %s s", ErrStalled, strconv.FormatFloat(b.idle.Seconds(), 'f', -1, 64))
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.stalled.Load() {
		return 0, b.err()
	}
	b.timer.Reset(b.idle)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && b.stalled.Load() {
		return n, b.err()
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
