package room

import (
	"context"
	"sync"
	"time"
)

// Pacer releases frames at the pace of their presentation times, from one
// clock origin shared by every track of a session (every video layer and
// the audio), so audio and video leave in sync and a file is played at
// real-time speed. A frame is due at origin + PTS.
//
// Live sources (WaitArrived) take the origin from the arrivals: per track
// (audio, video), the earliest arrival − PTS + Delay seen over the last
// Window of arrivals, and of those the latest, so the track whose frames
// the source sends later (MPEG-TS muxers hold audio for hundreds of
// milliseconds) sets the pace of all and they leave in sync; the tracks'
// skew counts up to MaxSkew. A frame of the latest track that arrived
// promptly therefore leaves Delay after it arrived; a frame that is late
// (it sat in a queue, a transcoder took long, the source stalled) leaves
// at once and moves nothing, so one slow writer never delays the others.
// The window lets the origin follow a source whose clock drifts from the
// wall clock. The audio track's arrival jitter is waited for as well:
// MPEG-TS muxers (FFmpeg's, so OBS's SRT output) pack several hundred
// milliseconds of audio into one PES packet when there is no video to
// interleave with, so audio arrives in bursts; taking the origin from a
// burst's last frame would release its first frames at once, in a burst a
// listener hears. The jitter is the second largest spread of arrival − PTS
// seen within one slot of the window (a burst arrives within one slot; a
// stall spreads a single slot, which the second largest ignores), at most
// MaxJitter.
// Video is not measured: its PTS run out of arrival order with B-frames,
// and one picture per PES arrives steadily. A frame is never held more
// than Delay + MaxSkew + MaxJitter + MaxLead, whatever its timestamp says.
//
// Files (Wait) take the origin from the first frame and the wall clock:
// a frame already late is released at once (the catch-up after a stall
// is a short burst, not a growing queue), and when the lag exceeds MaxLag,
// the lead exceeds MaxLead (when set), or the timeline jumps by more than
// MaxJump, the origin is moved so the offset does not persist. Until the
// first frame leaves, a frame earlier than the one that set the origin
// (by at most MaxSkew) moves the origin to itself: the tracks of a file
// need not start at the same time, and the first frame to reach the pacer
// may be the later track's (the other one sat in a transcoder, or the file
// stores it first); were it the origin, the earlier track's first frames
// would all be late and leave at once, in a burst. The frames already
// waiting then wait the longer.
type Pacer struct {
	// Delay holds every frame this long behind the origin: the budget that
	// lets slower paths (a transcoder) keep up with faster ones, so all
	// tracks leave on the media timeline.
	Delay time.Duration
	// MaxLead bounds how early a frame may be: for files, beyond it the
	// origin is moved; for live sources, a frame is never held longer
	// than Delay + MaxLead. Zero means no bound for files and 1 s for live
	// sources.
	MaxLead time.Duration
	// MaxLag is the lateness beyond which a file's origin is reset
	// (default 1 s).
	MaxLag time.Duration
	// MaxJump is the timestamp jump treated as a discontinuity (default 10 s).
	MaxJump time.Duration
	// Window is how far back live arrivals count for the origin (default
	// 4 s).
	Window time.Duration
	// MaxSkew bounds how much later one track's frames may arrive than
	// another's and still be waited for (default 1 s).
	MaxSkew time.Duration
	// MaxJitter bounds the audio arrival jitter waited for (default 1 s).
	MaxJitter time.Duration
	// JitterSlew is how fast the jitter waited for follows the measured
	// one, as a share of the wall time (default 0.08: learning 300 ms of
	// jitter slows the pace by 8 % — 27.8 pictures a second for 30 — for
	// under 4 s).
	JitterSlew float64
	// Adaptive, when set, replaces Delay for a live source (WaitArrived)
	// by a delay that follows the time the frames take to be ready (see
	// AdaptiveDelay). Every track shares it, so audio and video stay in
	// sync as it moves.
	Adaptive *AdaptiveDelay
	// Now and Sleep are the clock; time.Now and a timer by default (tests
	// replace them).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	started bool
	origin  time.Time     // wall time of PTS 0 (files)
	lastPTS time.Duration // newest PTS seen, for jump detection (files)
	resets  int
	// anchoring is true from the first origin until a frame leaves;
	// anchorPTS is the earliest PTS seen meanwhile (files).
	anchoring bool
	anchorPTS time.Duration

	// Live sources: per track, the earliest and latest arrival − PTS per
	// slot of the arrival window (a ring of windowSlots; the origin adds
	// the delay), and where a discontinuity started a new window.
	slots   [maxTracks][windowSlots]originSlot
	newest  int64     // newest slot index with a sample
	resetAt time.Time // arrivals before this belong to the old timeline
	// jitterWait is the audio jitter waited for, moving toward the
	// measured one at JitterSlew of the wall time (jitterAt: last move).
	jitterWait time.Duration
	jitterAt   time.Time
}

const (
	windowSlots = 8
	// maxTracks is the number of tracks a live origin keeps apart.
	maxTracks = 2
	// jitterTrack is the track whose arrival jitter is waited for (audio).
	jitterTrack = 1
)

type originSlot struct {
	idx    int64 // slot index (arrival / slot length); 0: empty
	origin time.Time
	latest time.Time // the latest candidate of the slot
	n      int       // candidates in the slot
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
	p.anchoring, p.anchorPTS = true, pts
	p.addArrival(0, at, at.Add(-pts))
	if p.Adaptive != nil {
		p.Adaptive.begin(p.now())
	}
}

// WaitArrived waits until a frame of a live source that arrived at
// arrived is due (see Pacer), and returns how late it is (0 when on time).
// track tells the source's tracks apart (0 or 1: video, audio). A zero
// arrived (a frame made here, not received) is due on the current origin
// and moves nothing.
func (p *Pacer) WaitArrived(ctx context.Context, track int, pts time.Duration, arrived time.Time) (time.Duration, error) {
	now := p.now()
	track = min(max(track, 0), maxTracks-1)
	p.mu.Lock()
	maxLead, maxJump := p.MaxLead, p.MaxJump
	if maxLead == 0 {
		maxLead = time.Second
	}
	if maxJump == 0 {
		maxJump = 10 * time.Second
	}
	if arrived.IsZero() {
		arrived = now
		if p.started {
			arrived = time.Time{} // no sample
		}
	}
	if !arrived.IsZero() && !arrived.Before(p.resetAt) {
		cand := arrived.Add(-pts)
		o, ok := p.trackOrigin(track)
		if !ok {
			o, ok = p.windowOrigin()
		}
		if !p.started || !ok || absDur(cand.Sub(o)) > maxJump {
			// The first frame, or a discontinuity of the source's
			// timeline: a new window from this arrival on.
			if p.started {
				p.resets++
			}
			p.started = true
			p.slots = [maxTracks][windowSlots]originSlot{}
			p.resetAt = arrived
		}
		p.addArrival(track, arrived, cand)
		p.slewJitter(now)
	}
	origin, _ := p.windowOrigin()
	delay := p.Delay
	if p.Adaptive != nil {
		delay = p.Adaptive.at(now)
		if late := now.Sub(origin.Add(delay + pts)); late > 0 && track != jitterTrack {
			// Raised at once: this picture leaves now, on the new
			// schedule, and the frames after it on time (see
			// AdaptiveDelay). A late audio frame does not freeze the
			// picture: the audio's arrival jitter is learned slowly
			// (JitterSlew), its transcoding time by the percentile.
			delay = p.Adaptive.late(arrived, late)
		}
	}
	p.mu.Unlock()

	due := origin.Add(delay + pts)
	wait := due.Sub(now)
	switch {
	case wait <= 0:
		return -wait, nil
	case wait > delay+p.maxSkew()+p.maxJitter()+maxLead:
		// A frame of a timeline left behind (before a discontinuity):
		// not worth holding.
		return 0, nil
	}
	return 0, p.sleep(ctx, wait)
}

// addArrival records an origin candidate of a frame of track that
// arrived at at. p.mu must be held.
func (p *Pacer) addArrival(track int, at, cand time.Time) {
	idx := at.UnixNano()/int64(p.slotLen()) + 1 // never 0
	s := &p.slots[track][idx%windowSlots]
	if s.idx != idx {
		if s.idx > idx {
			return // older than the window
		}
		*s = originSlot{idx: idx, origin: cand, latest: cand, n: 1}
		p.newest = max(p.newest, idx)
		return
	}
	if cand.Before(s.origin) {
		s.origin = cand
	}
	if cand.After(s.latest) {
		s.latest = cand
	}
	s.n++
}

// trackOrigin returns the earliest origin candidate of a track in the
// window, plus the track's jitter. p.mu must be held.
func (p *Pacer) trackOrigin(track int) (time.Time, bool) {
	var o time.Time
	ok := false
	for _, s := range p.slots[track] {
		if s.idx == 0 || s.idx <= p.newest-windowSlots {
			continue
		}
		if !ok || s.origin.Before(o) {
			o, ok = s.origin, true
		}
	}
	if ok && track == jitterTrack {
		o = o.Add(p.jitterWait)
	}
	return o, ok
}

// jitter returns the second largest spread of origin candidates within
// one slot of the window, among the track's slots with more than one
// candidate except its newest (still filling), at most MaxJitter: the
// bursts of a muxer vary in length, and the largest spread may be a
// stall's. p.mu must be held.
func (p *Pacer) jitter(track int) time.Duration {
	var newest int64
	for _, s := range p.slots[track] {
		newest = max(newest, s.idx)
	}
	var first, second time.Duration
	for _, s := range p.slots[track] {
		if s.idx == 0 || s.idx <= p.newest-windowSlots || s.idx == newest || s.n < 2 {
			continue
		}
		switch d := s.latest.Sub(s.origin); {
		case d > first:
			first, second = d, first
		case d > second:
			second = d
		}
	}
	return min(second, p.maxJitter())
}

// slewJitter moves the jitter waited for toward the measured one by at
// most JitterSlew of the wall time since the last move: a jitter learned
// (or gone) changes the pace by a few percent for a few seconds instead of
// freezing the picture, or rushing it, at once. p.mu must be held.
func (p *Pacer) slewJitter(now time.Time) {
	target := p.jitter(jitterTrack)
	if p.jitterAt.IsZero() || now.Before(p.jitterAt) {
		p.jitterAt = now
		return
	}
	slew := p.JitterSlew
	if slew == 0 {
		slew = 0.08
	}
	step := time.Duration(float64(now.Sub(p.jitterAt)) * slew)
	p.jitterAt = now
	switch {
	case target > p.jitterWait:
		p.jitterWait = min(target, p.jitterWait+step)
	case target < p.jitterWait:
		p.jitterWait = max(target, p.jitterWait-step)
	}
}

func (p *Pacer) maxJitter() time.Duration {
	if p.MaxJitter == 0 {
		return time.Second
	}
	return p.MaxJitter
}

// windowOrigin returns the origin: of the tracks' earliest candidates, the
// latest, at most MaxSkew after the earliest. p.mu must be held.
func (p *Pacer) windowOrigin() (time.Time, bool) {
	var lo, hi time.Time
	ok := false
	for track := range maxTracks {
		o, has := p.trackOrigin(track)
		if !has {
			continue
		}
		if !ok {
			lo, hi, ok = o, o, true
			continue
		}
		if o.Before(lo) {
			lo = o
		}
		if o.After(hi) {
			hi = o
		}
	}
	if hi.Sub(lo) > p.maxSkew() {
		hi = lo.Add(p.maxSkew())
	}
	return hi, ok
}

func (p *Pacer) maxSkew() time.Duration {
	if p.MaxSkew == 0 {
		return time.Second
	}
	return p.MaxSkew
}

func (p *Pacer) slotLen() time.Duration {
	w := p.Window
	if w == 0 {
		w = 4 * time.Second
	}
	return max(w/windowSlots, time.Millisecond)
}

// Wait blocks until the frame of a file with presentation time pts is due,
// and returns how late it is (0 when on time).
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
	switch {
	case !p.started:
		p.anchoring, p.anchorPTS = true, pts
		p.started = true
		p.origin = now.Add(p.Delay - pts)
	case absDur(pts-p.lastPTS) > maxJump:
		p.resets++
		p.anchoring = false
		p.origin = now.Add(p.Delay - pts)
	case p.anchoring && pts < p.anchorPTS && p.anchorPTS-pts <= p.maxSkew():
		// An earlier track's first frame: it is the start (see Pacer).
		p.origin = p.origin.Add(p.anchorPTS - pts)
		p.anchorPTS = pts
	}
	if pts > p.lastPTS {
		p.lastPTS = pts
	}
	due := p.origin.Add(pts)
	late := now.Sub(due)
	if late > maxLag || (p.MaxLead > 0 && -late > p.MaxLead) {
		p.origin = now.Add(p.Delay - pts)
		p.resets++
		p.anchoring = false
	}
	p.mu.Unlock()

	// The origin may move later while this frame waits (see anchoring):
	// it waits again until the frame is due on the origin as it is.
	for {
		p.mu.Lock()
		wait := p.origin.Add(pts).Sub(now)
		if wait <= 0 {
			p.anchoring = false
		}
		p.mu.Unlock()
		if wait <= 0 {
			return max(late, 0), nil
		}
		if err := p.sleep(ctx, wait); err != nil {
			return max(late, 0), err
		}
		now = p.now()
	}
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
