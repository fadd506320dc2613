package srt

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine started for a session, connection or stream must end with it.
//
// One exception, in the SRT library: gosrt v0.11.0's dialer closes its
// socket and then polls (without blocking) the channel its read goroutine
// reports to; when that goroutine gets there a moment later, it blocks on
// the send forever (dial.go, Dial's read loop). It holds one goroutine and
// a 1500-byte buffer per affected dial, and only the dials of SRT pulls
// are affected.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/datarhei/gosrt.Dial.func1"))
}
