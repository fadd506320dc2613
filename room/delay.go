package room

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// AdaptiveDelay is the release delay of a live source whose frames are
// transcoded (Pacer.Adaptive): instead of a fixed budget, it follows the
// time this machine's transcoder takes. The session reports, per output
// (each video layer, the audio), how long every frame took from its
// arrival to its encoded output being back (Observe); the delay is the
// highest per-output Percentile of the last Window plus Margin, within
// [Min, Max].
//
// It rises at once and falls slowly. A picture ready later than its
// release time (the transcoder took longer than the delay, or the source
// stalled) raises the delay at once by what that picture needed, at most
// to Max (late audio does not: see Pacer.WaitArrived): it
// leaves on the new schedule, so the viewer sees the picture before it
// held once for that long (a one-off stall, and a gap of the same length
// in the audio, which shares the delay), and the frames after it leave on
// time instead of late in a burst that LiveKit and the players answer with
// dropped pictures and a skewed lip sync. A measured percentile above the
// delay raises it at once as well. It falls toward the target by at most
// Slew of the wall time that passes: the frames then leave a few percent
// faster than real time, which a viewer does not notice.
//
// The frames that arrived before the release started (Pacer.Start: held
// while joining the room), or within adaptWarmup after, are neither
// measured nor counted late: the first pictures open the encoders and
// come out of a decoder catching up, which says nothing of the pace to
// come, and a delay raised by them would start high and come down. The zero
// value is not usable; NewAdaptiveDelay fills in the defaults.
type AdaptiveDelay struct {
	// Min and Max bound the delay; it starts at Min.
	Min, Max time.Duration
	// Margin is added to the measured percentile.
	Margin time.Duration
	// Percentile of the processing times that the delay covers (0.99).
	Percentile float64
	// Window is how far back the processing times count.
	Window time.Duration
	// Slew is how fast the delay falls, as a share of the wall time.
	Slew float64
	// OnMove, when set, is called whenever the delay moved by at least
	// moveReport since the last call, or reached Min or Max, with why; it runs with the pacer's
	// lock held and must not call the pacer.
	OnMove func(delay time.Duration, why string)

	cur atomic.Int64 // the delay in force, for Current

	mu       sync.Mutex
	delay    time.Duration
	from     time.Time // release start: earlier arrivals are ignored
	slewedAt time.Time
	lanes    [adaptLanes]lane
	target   time.Duration
	why      string
	// targetAt is when target was last computed from the samples.
	targetAt time.Time
	// raised is the delay a late frame raised it to, held as a floor of
	// the target until raisedAt + Window (the percentile may not count
	// that frame yet: falling at once would make the next one late).
	raised    time.Duration
	raisedAt  time.Time
	raisedWhy string
	reported  time.Duration
	reportedY bool
}

// Bounds of the measurement: adaptLanes outputs (video layers, then the
// audio in the last lane), each keeping its adaptSamples latest processing
// times (over 8 s at 60 frames a second) within the window; the target is
// recomputed at most every adaptEvery.
const (
	adaptLanes   = maxStatsLanes + 1
	adaptSamples = 512
	adaptEvery   = 100 * time.Millisecond
	// moveReport is the move of the delay worth a report (OnMove).
	moveReport = 20 * time.Millisecond
	// adaptWarmup is the time after the release start whose frames are
	// not measured.
	adaptWarmup = 2 * time.Second
)

// maxStatsLanes is the number of video layers measured apart; higher
// layers share the last one.
const maxStatsLanes = 4

type lane struct {
	at   [adaptSamples]time.Time
	took [adaptSamples]time.Duration
	n    int // samples written (the ring's next slot is n % adaptSamples)
}

// NewAdaptiveDelay returns an adaptive delay within [min, max] with the
// defaults: the 99th percentile of the last 10 s plus 20 ms, falling by at
// most 5 % of the wall time.
func NewAdaptiveDelay(min, max time.Duration) *AdaptiveDelay {
	a := &AdaptiveDelay{Min: min, Max: max, Margin: 20 * time.Millisecond, Percentile: 0.99,
		Window: 10 * time.Second, Slew: 0.05}
	a.delay = min
	a.cur.Store(int64(min))
	a.why = "floor"
	return a
}

// Current returns the delay in force (any goroutine).
func (a *AdaptiveDelay) Current() time.Duration { return time.Duration(a.cur.Load()) }

// Observe records that a frame of an output (a video layer 0, 1, …, or
// audio: -1) that arrived at arrived was ready to leave at ready (any
// goroutine).
func (a *AdaptiveDelay) Observe(output int, arrived, ready time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.counts(arrived) {
		return
	}
	i := adaptLanes - 1
	if output >= 0 {
		i = min(output, adaptLanes-2)
	}
	l := &a.lanes[i]
	l.at[l.n%adaptSamples] = ready
	took := max(ready.Sub(arrived), 0)
	l.took[l.n%adaptSamples] = took
	l.n++
	if took+a.Margin > a.delay {
		a.targetAt = time.Time{} // measure again at once: it may rise
	}
}

// counts tells whether a frame that arrived at arrived is measured (see
// adaptWarmup). a.mu must be held.
func (a *AdaptiveDelay) counts(arrived time.Time) bool {
	return !arrived.IsZero() && !a.from.IsZero() && !arrived.Before(a.from.Add(adaptWarmup))
}

// begin marks the start of the release: frames that arrived before it
// were held (joining the room) and say nothing of the transcoder.
func (a *AdaptiveDelay) begin(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.from.IsZero() {
		a.from, a.slewedAt = now, now
	}
}

// at returns the delay at now, after moving it toward the measured target
// (pacer lock held).
func (a *AdaptiveDelay) at(now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.from.IsZero() {
		a.from, a.slewedAt = now, now
	}
	if now.Sub(a.targetAt) >= adaptEvery || now.Before(a.targetAt) {
		a.targetAt = now
		a.target, a.why = a.measure(now)
		if a.raised > a.target && now.Sub(a.raisedAt) < a.Window {
			a.target, a.why = a.raised, a.raisedWhy
		}
	}
	elapsed := now.Sub(a.slewedAt)
	if elapsed < 0 {
		elapsed = 0
	}
	a.slewedAt = now
	switch {
	case a.target > a.delay:
		a.set(a.target, a.why)
	case a.target < a.delay:
		// No catching up on a long gap between frames: at most a second's
		// worth of fall at once.
		step := time.Duration(float64(min(elapsed, time.Second)) * a.Slew)
		a.set(max(a.target, a.delay-step), a.why)
	}
	return a.delay
}

// late raises the delay at once by what a frame that arrived at arrived
// and is late by late needed, plus the margin the target keeps (without
// it, the next measure would raise it again: a second stall), at most to
// Max (pacer lock held).
func (a *AdaptiveDelay) late(arrived time.Time, late time.Duration) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if late > 0 && a.counts(arrived) && a.delay < a.Max {
		a.raised, a.raisedAt = min(a.delay+late+a.Margin, a.Max), a.slewedAt
		a.raisedWhy = fmt.Sprintf("a frame was ready %v after its release time", late.Round(time.Millisecond))
		a.set(a.raised, a.raisedWhy)
		a.target, a.why = a.raised, a.raisedWhy
	}
	return a.delay
}

// set makes d the delay. a.mu must be held.
func (a *AdaptiveDelay) set(d time.Duration, why string) {
	if d == a.delay {
		return
	}
	a.delay = d
	a.cur.Store(int64(d))
	if a.OnMove != nil && (!a.reportedY || absDur(d-a.reported) >= moveReport || d == a.Min || d == a.Max) {
		a.reported, a.reportedY = d, true
		a.OnMove(d, why)
	}
}

// measure returns the target delay: the highest per-output percentile of
// the processing times within the window plus the margin, within [Min,
// Max], and why. a.mu must be held.
func (a *AdaptiveDelay) measure(now time.Time) (time.Duration, string) {
	var worst time.Duration
	worstLane := -1
	var buf []time.Duration
	for i := range a.lanes {
		l := &a.lanes[i]
		buf = buf[:0]
		for j := range min(l.n, adaptSamples) {
			if now.Sub(l.at[j]) <= a.Window {
				buf = append(buf, l.took[j])
			}
		}
		if len(buf) == 0 {
			continue
		}
		slices.Sort(buf)
		p := buf[min(int(float64(len(buf))*a.Percentile), len(buf)-1)]
		if p > worst || worstLane < 0 {
			worst, worstLane = p, i
		}
	}
	if worstLane < 0 {
		return a.Min, "floor (nothing measured yet)"
	}
	output := fmt.Sprintf("video layer %d", worstLane)
	if worstLane == adaptLanes-1 {
		output = "audio"
	}
	target := worst + a.Margin
	switch {
	case target < a.Min:
		return a.Min, fmt.Sprintf("floor (encode p%g = %v, %s)", a.Percentile*100, worst.Round(time.Millisecond), output)
	case target > a.Max:
		return a.Max, fmt.Sprintf("ceiling (encode p%g = %v, %s)", a.Percentile*100, worst.Round(time.Millisecond), output)
	}
	return target, fmt.Sprintf("encode p%g = %v (%s) + %v margin", a.Percentile*100, worst.Round(time.Millisecond), output, a.Margin)
}
