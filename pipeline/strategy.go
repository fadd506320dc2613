package pipeline

import (
	"context"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Strategy is how a session's media reaches the room: the frame strategy
// of this package (Start) or session/forward's RTP forwarding. The Session
// runs the lifecycle around it — the wait for what to publish, the join,
// the rejoin after a final disconnect, the no-media watchdog, the input
// state refresh, the end — and the strategy moves the media.
//
// The session calls Attach once, before it runs, and every other method
// from its own goroutine, one at a time.
type Strategy interface {
	// Attach hands the strategy its session.
	Attach(s *Session)
	// Handle takes one input the strategy's input methods posted
	// (Session.Post), in order with each other and with the end of the
	// input. It is called whether the media is published or not: before
	// the first Publish, and while the session rejoins, it is not. An
	// error ends the session with that reason.
	Handle(in any) error
	// Ready reports whether the strategy knows what to publish. When it
	// does not, wake, unless zero, is when to ask again without a new
	// input (a wait for a second track). ended is true once the input has
	// ended cleanly: a strategy with something to publish (a short file's
	// tracks) is then ready, publishes it, and the session ends.
	Ready(ended bool) (ready bool, wake time.Time)
	// Publish joins the room with join and publishes the media into it,
	// at the start and again after each rejoin. Decisions that can fail
	// without a room are taken before join. It returns the tracks
	// published, which the session records.
	Publish(ctx context.Context, join func() (RoomConn, error)) ([]*livekit.TrackInfo, error)
	// Unpublish stops using the room's tracks, releasing what is queued
	// for them, before the session leaves the room (at its end, before a
	// rejoin, after a failed Publish).
	Unpublish()
	// ReportInput refreshes the input state (measured bitrates).
	ReportInput()
	// Sender names the source in the no-media reasons: "the encoder".
	Sender() string
}

// Clock is a session's time: the real clock, or a fake one in tests.
type Clock interface {
	Now() time.Time
	// After sends the time on the channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on c, or until ctx ends (its cause is returned).
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-c.After(d):
		return nil
	}
}
