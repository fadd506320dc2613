package ts

import (
	"github.com/tributary-ingress/tributary/media"
)

const (
	wrapPeriod = 1 << 33
	halfWrap   = 1 << 32
)

// timeline unwraps 33-bit 90 kHz timestamps on one line shared by all
// tracks and rebases them.
type timeline struct {
	haveRef bool
	// last is the unwrapped value of the last DTS, the reference of the
	// next unwrap.
	last int64
	// anchored is set once offset is known: rebased = unwrapped - offset.
	anchored bool
	offset   int64
	// target is the rebased value the earliest DTS gets at the next
	// anchoring: 0 at the start, end after a discontinuity.
	target int64
	// end is the rebased end (last DTS plus duration) of what was emitted.
	end int64
}

// unwrap returns the 33-bit timestamp raw unwrapped next to the last one,
// and makes it the reference.
func (t *timeline) unwrap(raw int64) int64 {
	v := t.unwrapFree(raw)
	t.haveRef, t.last = true, v
	return v
}

// unwrapFree unwraps raw without moving the reference.
func (t *timeline) unwrapFree(raw int64) int64 {
	if !t.haveRef {
		return raw
	}
	diff := (raw - t.last) & (wrapPeriod - 1)
	if diff >= halfWrap {
		diff -= wrapPeriod
	}
	return t.last + diff
}

// relative unwraps a PTS next to its (unwrapped) DTS.
func relative(dts, rawPTS int64) int64 {
	diff := (rawPTS - dts) & (wrapPeriod - 1)
	if diff >= halfWrap {
		diff -= wrapPeriod
	}
	return dts + diff
}

func (t *timeline) discontinuity() {
	t.haveRef = false
	t.anchored = false
	t.target = t.end
}

// pending is a frame or a splice command waiting for the timeline to be
// anchored.
type pending struct {
	frame *media.Frame
	s     *stream
	// dts90 and pts90 are unwrapped 90 kHz; extra is in track ticks
	// (the position of an audio frame inside its PES packet).
	dts90, pts90 int64
	extra        int64
	// dur is the duration in track ticks, when known.
	dur    int64
	splice *SpliceInsert
}

// push emits p, or holds it until the timeline is anchored: until every
// stream has produced a frame, or MaxPendingFrames are held.
func (d *Demuxer) push(p pending) error {
	if d.tl.anchored {
		return d.emit(p)
	}
	d.pending = append(d.pending, p)
	if len(d.pending) < MaxPendingFrames {
		for _, s := range d.streams {
			if !s.skip && !s.seen {
				return nil
			}
		}
	}
	return d.flush()
}

// flush anchors the timeline on the earliest DTS held and emits
// everything held.
func (d *Demuxer) flush() error {
	if len(d.pending) == 0 {
		return nil
	}
	if !d.tl.anchored {
		first := true
		var earliest int64
		for _, p := range d.pending {
			v := p.dts90
			if p.frame == nil {
				if v = p.pts90; v < 0 {
					continue
				}
			}
			if first || v < earliest {
				earliest, first = v, false
			}
		}
		if first {
			// Only immediate splice commands: keep waiting for a time.
			return nil
		}
		d.tl.offset = earliest - d.tl.target
		d.tl.anchored = true
	}
	ps := d.pending
	d.pending = nil
	for _, p := range ps {
		if err := d.emit(p); err != nil {
			return err
		}
	}
	return nil
}

func (d *Demuxer) emit(p pending) error {
	if p.splice != nil {
		in := *p.splice
		if in.PTS >= 0 {
			in.PTS = p.pts90 - d.tl.offset
		}
		d.stats.SpliceInserts++
		if d.OnSCTE35 == nil {
			return nil
		}
		return d.OnSCTE35(in)
	}
	f := p.frame
	rate := f.Track.ClockRate
	f.DTS = media.Rescale(p.dts90-d.tl.offset, VideoClockRate, rate) + p.extra
	f.PTS = media.Rescale(p.pts90-d.tl.offset, VideoClockRate, rate) + p.extra
	if end := media.Rescale(f.DTS+p.dur, rate, VideoClockRate); end > d.tl.end {
		d.tl.end = end
	}
	if f.Track.Kind == media.KindVideo {
		d.stats.VideoFrames++
	} else {
		d.stats.AudioFrames++
	}
	return d.OnFrame(f)
}
