package room

import (
	"context"
	"sync"
	"time"
)

// Pacer releases frames at the pace of their presentation times, from one
// clock origin shared by every track of a session, so audio and video leave
// in sync and a file is played at real-time speed.
//
// Latency is bounded: a frame that is already late is released at once
// (the catch-up after a stall is a short burst, not a growing queue), and
// when the lag exceeds MaxLag, the lead exceeds MaxLead (a live source whose
// clock runs fast), or the timeline jumps by more than MaxJump, the origin
// is moved so the offset does not persist.
type Pacer struct {
	// Delay holds every frame this long behind the origin: the budget that
	// lets slower paths (a transcoder) keep up with faster ones, so all
	// tracks leave on the media timeline.
	Delay time.Duration
	// MaxLead, when set, bounds how early a frame may be (live sources);
	// zero means no bound (files, read as fast as they are paced).
	MaxLead time.Duration
	// MaxLag is the lateness beyond which the origin is reset (default 1 s).
	MaxLag time.Duration
	// MaxJump is the timestamp jump treated as a discontinuity (default 10 s).
	MaxJump time.Duration
	// Now and Sleep are the clock; time.Now and a timer by default (tests
	// replace them).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	started bool
	origin  time.Time     // wall time of PTS 0
	lastPTS time.Duration // newest PTS seen, for jump detection
	resets  int
}

// Start anchors the clock: the frame with presentation time pts arrived at
// at. Frames are then due at their arrival time plus Delay, so time spent
// before the first release (joining the room) is not added to every frame:
// frames held meanwhile go out at once. Without Start, the first Wait
// anchors the clock.
func (p *Pacer) Start(at time.Time, pts time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = true
	p.origin = at.Add(p.Delay - pts)
	p.lastPTS = pts
}

// WaitArrived is Wait for a frame of a live source that arrived at
// arrived: the clock origin moves earlier when a frame shows that the
// source's frames can be released sooner (the first frames often arrive
// late, held up by the publish handshake, and anchoring on them would add
// that delay to every frame). A zero arrived is plain Wait.
func (p *Pacer) WaitArrived(ctx context.Context, pts time.Duration, arrived time.Time) (time.Duration, error) {
	if !arrived.IsZero() {
		p.mu.Lock()
		if o := arrived.Add(p.Delay - pts); p.started && o.Before(p.origin) {
			p.origin = o
		}
		p.mu.Unlock()
	}
	return p.Wait(ctx, pts)
}

// Wait blocks until the frame with presentation time pts is due, and
// returns how late it is (0 when on time).
func (p *Pacer) Wait(ctx context.Context, pts time.Duration) (time.Duration, error) {
	now := p.now()
	p.mu.Lock()
	maxLag, maxJump := p.MaxLag, p.MaxJump
	if maxLag == 0 {
		maxLag = time.Second
	}
	if maxJump == 0 {
		maxJump = 10 * time.Second
	}
	if !p.started || absDur(pts-p.lastPTS) > maxJump {
		if p.started {
			p.resets++
		}
		p.started = true
		p.origin = now.Add(p.Delay - pts)
	}
	if pts > p.lastPTS {
		p.lastPTS = pts
	}
	due := p.origin.Add(pts)
	late := now.Sub(due)
	if late > maxLag || (p.MaxLead > 0 && -late > p.MaxLead) {
		p.origin = now.Add(p.Delay - pts)
		p.resets++
		due = p.origin.Add(pts)
	}
	p.mu.Unlock()

	if wait := due.Sub(now); wait > 0 {
		return max(late, 0), p.sleep(ctx, wait)
	}
	return max(late, 0), nil
}

// Resets returns how many times the origin was moved (stalls, jumps).
func (p *Pacer) Resets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resets
}

func (p *Pacer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
