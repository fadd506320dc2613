// Package msgstream turns a message-based connection — UDP datagrams, SRT
// live-mode messages — into the byte stream an MPEG-TS demuxer reads, with
// a deadline on every wait for a message.
//
// Both transports deliver whole messages: a read into a buffer smaller
// than the message loses the rest of it (UDP truncates, SRT drops), so a
// Stream reads each message whole into its own buffer and hands it out
// from there. MPEG-TS packets never cross messages, so the stream is the
// messages one after another.
package msgstream

import (
	"errors"
	"net"
	"time"
)

// Conn is what a Stream reads from: ReadMessage reads one whole message
// into p (which has room for the largest one the transport delivers);
// SetReadDeadline bounds the wait.
type Conn interface {
	ReadMessage(p []byte) (int, error)
	SetReadDeadline(t time.Time) error
}

// Stream is a byte stream over a Conn. Not safe for concurrent use.
type Stream struct {
	conn    Conn
	timeout time.Duration
	onIdle  func(time.Duration) error
	buf     []byte
	pending []byte
}

// New returns a Stream of conn's messages of at most maxMessage bytes. A
// read that waits more than timeout for a message fails with onIdle's
// error, which should say what was not received.
func New(conn Conn, maxMessage int, timeout time.Duration, onIdle func(time.Duration) error) *Stream {
	return &Stream{conn: conn, timeout: timeout, onIdle: onIdle, buf: make([]byte, maxMessage)}
}

// Read reads the rest of the current message, or the next one. Data that
// came with an error is returned and the error left to the next message
// read, which a closed or failed connection reports again.
func (r *Stream) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if err := r.conn.SetReadDeadline(time.Now().Add(r.timeout)); err != nil {
			return 0, err
		}
		n, err := r.conn.ReadMessage(r.buf)
		r.pending = r.buf[:max(n, 0)]
		if len(r.pending) > 0 {
			break
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, r.onIdle(r.timeout)
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}
