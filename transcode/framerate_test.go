package transcode

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFrameRateCap feeds the cap ten seconds of pictures at common source
// rates, with timestamps as real inputs give them (RTMP's whole
// milliseconds, capture-time jitter, variable rate), and checks the
// output rate and its evenness: the rate is min(source, cap) within 1 %,
// and drops are spread out, never bunched: kept pictures are at most
// ceil(source/cap) source intervals apart, bar 1 % of them.
func TestFrameRateCap(t *testing.T) {
	const clock = 90000
	sources := []float64{15, 23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60}
	caps := []float64{0, 15, 24, 25, 30, 60}
	for _, src := range sources {
		for _, capRate := range caps {
			for _, ts := range []string{"exact", "ms", "jitter"} {
				name := fmt.Sprintf("%v_on_%v_%s", src, capRate, ts)
				t.Run(name, func(t *testing.T) {
					rng := rand.New(rand.NewPCG(1, uint64(src*1000+capRate)))
					c := newFrameRateCap(capRate, clock)
					const seconds = 10
					n := int(src * seconds)
					var kept []int64
					for i := range n {
						sec := float64(i) / src
						var pts int64
						switch ts {
						case "exact":
							pts = int64(math.Round(sec * clock))
						case "ms": // FLV: whole milliseconds
							pts = int64(math.Round(sec*1000)) * clock / 1000
						case "jitter": // capture times ±1.5 ms
							pts = int64(math.Round((sec + (rng.Float64()-0.5)*0.003) * clock))
						}
						if c.keep(pts) {
							kept = append(kept, pts)
						}
					}
					want := src
					if capRate > 0 && capRate < src {
						want = capRate
					}
					got := float64(len(kept)) / seconds
					require.InDelta(t, want, got, want*0.01+0.11, "output rate")
					// Kept pictures are at most ceil(src/cap) source intervals
					// apart (plus timestamp jitter): 30 on 25 never skips two
					// in a row.
					srcInterval := clock / src
					maxGap := srcInterval
					if capRate > 0 && capRate < src {
						maxGap = math.Ceil(src/capRate-0.01) * srcInterval
					}
					// A source a hair faster than twice the cap (59.94 on 30)
					// earns an extra picture every half minute: the one gap
					// after it may be one source interval longer.
					long := 0
					for i := 1; i < len(kept); i++ {
						gap := float64(kept[i] - kept[i-1])
						require.LessOrEqual(t, gap, maxGap+srcInterval+0.007*clock,
							"pictures %d and %d are too far apart", i-1, i)
						if gap > maxGap+0.007*clock {
							long++
						}
					}
					require.LessOrEqual(t, long, max(2, len(kept)/100), "gaps longer than %v ticks", maxGap)
				})
			}
		}
	}
}

// TestFrameRateCapVariable checks a variable-rate source (a screen
// capture: bursts at 60 fps, then a still picture for a second): the cap
// is respected in every second, and a picture after a pause is kept.
func TestFrameRateCapVariable(t *testing.T) {
	const clock = 90000
	c := newFrameRateCap(30, clock)
	var pts int64
	perSecond := map[int64]int{}
	for burst := range 5 {
		for range 60 { // one second at 60 fps
			if c.keep(pts) {
				perSecond[pts/clock]++
			}
			pts += clock / 60
		}
		pts += clock // a pause of one second
		require.True(t, c.keep(pts), "the first picture after pause %d", burst)
		perSecond[pts/clock]++
		pts += clock / 60
	}
	for sec, n := range perSecond {
		require.LessOrEqual(t, n, 31, "second %d", sec)
	}
}

// TestFrameRateCapRestart: a timeline that goes back (a new stream on the
// same input) starts a new grid instead of dropping until it catches up.
func TestFrameRateCapRestart(t *testing.T) {
	c := newFrameRateCap(25, 90000)
	for i := range 100 {
		c.keep(int64(i) * 3000)
	}
	kept := 0
	for i := range 30 {
		if c.keep(int64(i) * 3000) {
			kept++
		}
	}
	require.InDelta(t, 25, kept, 1)
}
