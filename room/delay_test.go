package room

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// simFrame is a frame of one output of a simulated transcoding session:
// it arrived at arrived and was back from its transcoder at ready.
type simFrame struct {
	out     int // video layer, or -1 for audio
	pts     time.Duration
	arrived time.Time
	ready   time.Time
}

type simRelease struct {
	simFrame
	at    time.Time
	late  time.Duration
	delay time.Duration // the adaptive delay after the release
}

// simulate runs frames through a pacer with an adaptive delay on a fake
// clock, as the session's paced writers do: each output releases its
// frames in order, a frame no earlier than it is ready, and the delay
// learns each frame's processing time when it is ready.
func simulate(p *Pacer, clk *fakeClock, frames []simFrame) []simRelease {
	var slept time.Duration
	p.Now = clk.now
	p.Sleep = func(_ context.Context, d time.Duration) error { slept = d; return nil }
	queues := map[int][]simFrame{}
	var outs []int
	for _, f := range frames {
		if _, ok := queues[f.out]; !ok {
			outs = append(outs, f.out)
		}
		queues[f.out] = append(queues[f.out], f)
	}
	free := map[int]time.Time{} // when each output's writer is free again
	var rel []simRelease
	for {
		next, at := 0, time.Time{}
		found := false
		for _, o := range outs {
			q := queues[o]
			if len(q) == 0 {
				continue
			}
			t := q[0].ready
			if free[o].After(t) {
				t = free[o]
			}
			if !found || t.Before(at) {
				next, at, found = o, t, true
			}
		}
		if !found {
			return rel
		}
		f := queues[next][0]
		queues[next] = queues[next][1:]
		clk.t = at
		p.Adaptive.Observe(f.out, f.arrived, f.ready)
		track := 0
		if f.out < 0 {
			track = 1
		}
		slept = 0
		late, err := p.WaitArrived(context.Background(), track, f.pts, f.arrived)
		if err != nil {
			panic(err)
		}
		out := at.Add(slept)
		free[next] = out
		rel = append(rel, simRelease{simFrame: f, at: out, late: late, delay: p.Adaptive.Current()})
	}
}

// source makes dur of a steady 30 fps video in three layers and 50 Opus
// frames a second, arriving on time from t0; proc gives each frame's
// processing time by output and arrival offset.
func source(t0 time.Time, dur time.Duration, proc func(out int, at time.Duration) time.Duration) []simFrame {
	var fs []simFrame
	for pts := time.Duration(0); pts < dur; pts += time.Second / 30 {
		for layer := range 3 {
			arr := t0.Add(pts)
			fs = append(fs, simFrame{out: layer, pts: pts, arrived: arr, ready: arr.Add(proc(layer, pts))})
		}
	}
	for pts := time.Duration(0); pts < dur; pts += 20 * time.Millisecond {
		arr := t0.Add(pts)
		fs = append(fs, simFrame{out: -1, pts: pts, arrived: arr, ready: arr.Add(proc(-1, pts))})
	}
	return fs
}

// layered returns the processing times of a source whose top layer (2)
// takes top(arrival offset), the lower layers lower and the audio audio.
func layered(top func(time.Duration) time.Duration, lower, audio time.Duration) func(int, time.Duration) time.Duration {
	return func(out int, at time.Duration) time.Duration {
		switch {
		case out == 2:
			return top(at)
		case out < 0:
			return audio
		}
		return lower
	}
}

// avOffsets returns, for each video frame of the top layer that left on
// time, the difference between its release offset (release − arrival of
// an on-time source) and that of the audio frame nearest in PTS: what a
// viewer sees as lip sync.
func avOffsets(t0 time.Time, rel []simRelease, top int) (offsets []time.Duration, ptsOf []time.Duration) {
	audio := map[time.Duration]time.Duration{} // pts → release offset
	for _, r := range rel {
		if r.out < 0 {
			audio[r.pts] = r.at.Sub(t0.Add(r.pts))
		}
	}
	for _, r := range rel {
		if r.out != top || r.late > 0 {
			continue
		}
		ap := (r.pts + 10*time.Millisecond) / (20 * time.Millisecond) * (20 * time.Millisecond)
		a, ok := audio[ap]
		if !ok {
			continue
		}
		offsets = append(offsets, r.at.Sub(t0.Add(r.pts))-a)
		ptsOf = append(ptsOf, r.pts)
	}
	return offsets, ptsOf
}

// raises returns the PTS of the frames at whose release the delay rose.
func raises(rel []simRelease) []time.Duration {
	var at []time.Duration
	prev := rel[0].delay
	for _, r := range rel {
		if r.delay > prev {
			at = append(at, r.pts)
		}
		prev = r.delay
	}
	return at
}

func newSimPacer(t0 time.Time) (*Pacer, *fakeClock) {
	clk := &fakeClock{t: t0}
	p := &Pacer{Delay: 250 * time.Millisecond, Adaptive: NewAdaptiveDelay(100*time.Millisecond, 250*time.Millisecond)}
	p.Now = clk.now
	p.Start(t0, 0)
	return p, clk
}

// A fast transcoder keeps the delay at the floor; after a slow spell it
// comes back down to it, never faster than 5 % of the wall time, with no
// frame late and audio and video in sync throughout.
func TestAdaptiveDelayConvergesDown(t *testing.T) {
	ms := time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, clk := newSimPacer(t0)
	var moves []string
	p.Adaptive.OnMove = func(d time.Duration, why string) { moves = append(moves, fmt.Sprint(d, " ", why)) }
	// The top layer takes 300 ms in the first second (opening the
	// encoder, within the warm-up: not measured), 160 ms from 2.5 s to
	// 7.5 s (a busy machine), 12 ms otherwise; the lower layers and the
	// audio are quick.
	top := func(at time.Duration) time.Duration {
		if at < time.Second {
			return 300 * ms
		}
		if at >= 2500*ms && at < 7500*ms {
			return 160 * ms
		}
		return 12 * ms
	}
	rel := simulate(p, clk, source(t0, 30*time.Second, layered(top, 5*ms, 3*ms)))

	late := 0
	var prevTop *simRelease
	for i, r := range rel {
		if r.late > 0 && r.arrived.Sub(t0) >= adaptWarmup {
			late++
		}
		if r.out == 2 {
			if prevTop != nil && r.late == 0 && prevTop.late == 0 {
				// Falling by at most 5 % of the wall time: never more
				// than 5 % faster than real time.
				gap := r.at.Sub(prevTop.at)
				require.GreaterOrEqual(t, gap, time.Second/30*95/100-ms, "frame %v left in a rush", r.pts)
			}
			prevTop = &rel[i]
		}
	}
	// At most the first slow frame is late (its own processing time may
	// already have raised the delay), and the delay rose once.
	require.LessOrEqual(t, late, 1, "late frames")
	require.Len(t, raises(rel), 1, "raises")
	at := func(wall time.Duration) time.Duration {
		var d time.Duration
		for _, r := range rel {
			if r.at.Sub(t0) <= wall {
				d = r.delay
			}
		}
		return d
	}
	require.Equal(t, 100*ms, at(2*time.Second), "the warm-up's slow pictures are not measured")
	require.InDelta(t, float64(180*ms), float64(at(6*time.Second)), float64(2*ms), "delay while slow: p99 + margin")
	require.Equal(t, 100*ms, at(29*time.Second), "back at the floor")
	// The window keeps the slow spell for 10 s, then the delay falls.
	require.Greater(t, at(17*time.Second), 150*ms)
	require.Less(t, at(20*time.Second), 120*ms)
	requireInSync(t, t0, rel)
	require.NotEmpty(t, moves)
	require.Contains(t, moves[len(moves)-1], "floor")
	t.Logf("moves: %q", moves)
}

// A transcoder that becomes slow raises the delay at once: one frame late
// (released when ready, the viewer sees one stall), none dropped or late
// after it, and audio and video back in sync within ±20 ms at once.
func TestAdaptiveDelayRisesWithoutDropping(t *testing.T) {
	ms := time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, clk := newSimPacer(t0)
	// The top layer takes 20 ms, from 3 s on 150 ms, and from 6 s 200 ms
	// with one picture in seven at 240 ms (a machine getting busier).
	top := func(at time.Duration) time.Duration {
		switch {
		case at >= 6*time.Second && (at/(time.Second/30))%7 == 0:
			return 240 * ms
		case at >= 6*time.Second:
			return 200 * ms
		case at >= 3*time.Second:
			return 150 * ms
		}
		return 20 * ms
	}
	frames := source(t0, 12*time.Second, layered(top, 8*ms, 4*ms))
	rel := simulate(p, clk, frames)
	require.Len(t, rel, len(frames), "every frame released")

	lateAt := raises(rel)
	var worstGap time.Duration
	var prev time.Time
	for _, r := range rel {
		if r.out != 2 {
			continue
		}
		if !prev.IsZero() {
			worstGap = max(worstGap, r.at.Sub(prev))
		}
		prev = r.at
	}
	// One raise per step up (3 s, 6 s: the 240 ms ones then raise it once
	// more), each a one-off stall of at most the step; no picture late
	// after a raise.
	require.LessOrEqual(t, len(lateAt), 3, "raises at %v", lateAt)
	for _, r := range rel {
		if r.late > 0 {
			near := false
			for _, l := range lateAt {
				near = near || r.pts == l
			}
			require.True(t, near, "picture %v late by %v, raises at %v", r.pts, r.late, lateAt)
		}
	}
	require.LessOrEqual(t, worstGap, time.Second/30+100*ms, "longest stall")
	require.Equal(t, 250*ms, p.Adaptive.Current(), "240 ms + margin is above the ceiling")

	requireInSync(t, t0, rel)
}

// requireInSync checks that the top layer's pictures and the audio leave
// within ±20 ms of each other on the media timeline, but for the few
// pictures right after a raise of the delay (a 100 ms window), whose audio
// had left before it.
func requireInSync(t *testing.T, t0 time.Time, rel []simRelease) {
	t.Helper()
	at := raises(rel)
	offsets, ptsOf := avOffsets(t0, rel, 2)
	require.NotEmpty(t, offsets)
	bad := 0
	for i, o := range offsets {
		if absDur(o) <= 20*time.Millisecond {
			continue
		}
		near := false
		for _, l := range at {
			near = near || (ptsOf[i] >= l && ptsOf[i]-l <= 100*time.Millisecond)
		}
		require.True(t, near, "A/V offset %v at %v, raises at %v", o, ptsOf[i], at)
		bad++
	}
	require.LessOrEqual(t, bad, 4*len(at))
}

// The percentile covers the slowest output, each measured apart: a slow
// top layer is not averaged away by the quick lower ones and the audio.
func TestAdaptiveDelayPerOutput(t *testing.T) {
	ms := time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := NewAdaptiveDelay(40*ms, 250*ms)
	a.begin(t0)
	for i := range 300 {
		at := t0.Add(time.Duration(i) * 10 * ms)
		for out := -1; out < 3; out++ {
			took := 5 * ms
			if out == 2 {
				took = time.Duration(30+i%60) * ms // 30–89 ms
			}
			a.Observe(out, at, at.Add(took))
		}
	}
	d := a.at(t0.Add(3 * time.Second))
	require.InDelta(t, float64(89*ms+20*ms), float64(d), float64(ms))
	// Frames that arrived before the release started say nothing.
	b := NewAdaptiveDelay(40*ms, 250*ms)
	b.begin(t0)
	b.Observe(0, t0.Add(-time.Second), t0.Add(time.Millisecond))
	require.Equal(t, 40*ms, b.at(t0.Add(time.Second)))
	require.Equal(t, 40*ms, b.late(t0.Add(-time.Second), 500*ms))
}
