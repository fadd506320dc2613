package transcode

// frameRateCap thins a picture sequence to at most a maximum rate with the
// drops spread evenly: a 30 fps source capped at 25 keeps five pictures in
// six, 50 capped at 30 three in five, 60 capped at 30 every other one, as
// GStreamer's videorate (max-rate, drop-only) does for LiveKit's official
// worker. A plain "skip pictures closer than 1/max to the last one kept"
// rule keeps only every other picture whenever the source is faster than
// the cap and slower than twice the cap (30 → 15 instead of 25).
//
// It is a token bucket on the media clock: time earns credit at the cap's
// rate, a kept picture spends one picture's worth. A picture slightly
// early (timestamps in whole milliseconds, capture jitter) may borrow a
// little, so a source at exactly the cap keeps every picture; the bucket
// holds little, so a pause in the source does not allow a burst after it.
//
// Times are PTS in the source's clock ticks.
type frameRateCap struct {
	perTick float64 // pictures earned per tick; 0: no cap
	credit  float64 // in pictures
	last    int64
	started bool
}

const (
	// capBorrow is how early (in pictures) a kept picture may be.
	capBorrow = 0.3
	// capBucket is the most credit kept (in pictures).
	capBucket = 1.5
	// capMargin: see keep.
	capMargin = 0.025
)

// newFrameRateCap returns a cap of maxRate pictures per second for a clock
// of clockRate ticks per second; maxRate 0 keeps every picture.
func newFrameRateCap(maxRate float64, clockRate int) frameRateCap {
	if maxRate <= 0 || clockRate <= 0 {
		return frameRateCap{}
	}
	return frameRateCap{perTick: maxRate / float64(clockRate)}
}

// keep reports whether the picture at pts is kept.
func (c *frameRateCap) keep(pts int64) bool {
	if c.perTick == 0 {
		return true
	}
	if !c.started || pts < c.last {
		// The first picture, or the timeline went back (a new stream):
		// start again from here.
		c.started = true
		c.last = pts
		c.credit = 0
		return true
	}
	// The credit saved is also bounded by what keeping the next picture
	// needs: without that, a source a hair faster than a multiple of the
	// cap (59.94 on 30) saves up a picture every half minute and spends it
	// as two kept in a row, then sits on the borrowing threshold, where
	// millisecond rounding flips keep and drop (gaps of three pictures).
	// capMargin keeps it clear of the threshold for that rounding.
	earn := float64(pts-c.last) * c.perTick
	c.credit = min(c.credit+earn, capBucket, 1-capBorrow+earn-capMargin)
	c.last = pts
	if c.credit < 1-capBorrow {
		return false
	}
	c.credit--
	return true
}
