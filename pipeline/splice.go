package pipeline

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/tributary-ingress/tributary/media"
)

// maxCues bounds the ad-break commands waiting for their time: a stream
// announces a break a few seconds (at most minutes) ahead, one or two
// commands per break, so more than this is a broken or hostile stream; the
// oldest commands are dropped.
const maxCues = 64

// Splice is an SCTE-35 splice_insert command, on the timeline of the
// input's frames.
type Splice struct {
	EventID      uint32
	Cancel       bool
	OutOfNetwork bool
	Immediate    bool
	// PTS is the splice time in 90 kHz ticks; negative when the command
	// has none (immediate).
	PTS int64
}

// attributeSetter takes participant attributes: the room, or a recorder
// in tests.
type attributeSetter interface {
	SetAttributes(map[string]string)
}

// cue is a command waiting for the published media to reach its time.
type cue struct {
	Splice
	at  time.Duration // media time at which it applies
	now bool          // apply with the next frame released (no media time known)
}

// noteInput records the media time reached by the input: an immediate
// command applies where it sits in the stream, i.e. when the published
// media reaches the frames that came just before it.
func (o *outputs) noteInput(f *media.Frame) {
	t := media.Duration(f.PTS, f.Track.ClockRate)
	o.cueMu.Lock()
	if !o.inSeen || t > o.inTime {
		o.inTime, o.inSeen = t, true
	}
	o.cueMu.Unlock()
}

// splice schedules an ad-break command: the participant attribute
// ingress.outOfNetwork.eventID is set to the event ID when the break
// starts (out of network), cleared when it ends, at the moment the
// published media reaches the splice time — as viewers see it, not when the
// command arrived. An immediate command (or one without a time) applies
// when the published media reaches the point of the input where the
// command was received.
func (o *outputs) splice(sp Splice) {
	o.cueMu.Lock()
	defer o.cueMu.Unlock()
	if sp.Cancel {
		o.cues = slices.DeleteFunc(o.cues, func(c cue) bool { return c.EventID == sp.EventID })
		return
	}
	c := cue{Splice: sp}
	switch {
	case !sp.Immediate && sp.PTS >= 0:
		c.at = media.Duration(sp.PTS, 90000)
	case o.inSeen:
		c.at = o.inTime
	default:
		c.now = true
	}
	if len(o.cues) >= maxCues {
		o.s.log.Warnw("too many pending ad break markers, dropping the oldest", nil, "eventID", o.cues[0].EventID)
		o.cues = slices.Delete(o.cues, 0, 1)
	}
	o.cues = append(o.cues, c)
}

// applyCues applies the commands due at the media time t of a frame just
// released. Every paced writer calls it; the lock is held while the
// attribute is sent so that two writers cannot apply two commands in the
// wrong order.
func (o *outputs) applyCues(t time.Duration) {
	o.cueMu.Lock()
	defer o.cueMu.Unlock()
	if len(o.cues) == 0 {
		return
	}
	var due []cue
	o.cues = slices.DeleteFunc(o.cues, func(c cue) bool {
		if c.now || c.at <= t {
			due = append(due, c)
			return true
		}
		return false
	})
	// Several commands can fall due at once (after a stall): the one with
	// the latest time decides; arrival order breaks ties.
	slices.SortStableFunc(due, func(a, b cue) int { return cmp.Compare(a.at, b.at) })
	for _, c := range due {
		value := ""
		if c.OutOfNetwork {
			value = strconv.FormatUint(uint64(c.EventID), 10)
		}
		o.setAdAttribute(value)
		o.s.log.Infow("ad break marker applied", "eventID", c.EventID, "outOfNetwork", c.OutOfNetwork,
			"immediate", c.Immediate, "spliceTime", c.at, "mediaTime", t)
	}
}

// setAdAttribute sets the attribute unless it already has the value.
// o.cueMu must be held.
func (o *outputs) setAdAttribute(value string) {
	if value == o.adValue {
		return
	}
	o.adValue = value
	var dst attributeSetter = o.room
	if o.attrs != nil {
		dst = o.attrs
	}
	dst.SetAttributes(map[string]string{livekit.AttrIngressOutOfNetworkEventID: value})
}

// inheritCues takes over the ad-break state of the outputs a rejoin
// replaced: the commands still waiting, and the attribute of a break in
// progress, which the new participant does not have.
func (o *outputs) inheritCues(old *outputs) {
	old.cueMu.Lock()
	cues, value, inTime, inSeen := slices.Clone(old.cues), old.adValue, old.inTime, old.inSeen
	old.cueMu.Unlock()
	o.cueMu.Lock()
	defer o.cueMu.Unlock()
	o.cues = append(cues, o.cues...)
	o.inTime, o.inSeen = inTime, inSeen
	o.setAdAttribute(value)
}
