package session

import (
	"strconv"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/tributary-ingress/tributary/media"
)

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

// splice schedules an ad-break command: the participant attribute
// ingress.outOfNetwork.eventID is set to the event ID when the break
// starts (out of network), cleared when it ends, at the moment the
// published media reaches the splice time — as viewers see it, not when the
// command arrived. Immediate commands apply with the next frame released.
func (o *outputs) splice(sp Splice) {
	o.cueMu.Lock()
	defer o.cueMu.Unlock()
	if sp.Cancel {
		kept := o.cues[:0]
		for _, c := range o.cues {
			if c.EventID != sp.EventID {
				kept = append(kept, c)
			}
		}
		o.cues = kept
		return
	}
	o.cues = append(o.cues, sp)
}

// applyCues applies the commands due at the media time t of a frame just
// released.
func (o *outputs) applyCues(t time.Duration) {
	o.cueMu.Lock()
	var due []Splice
	kept := o.cues[:0]
	for _, c := range o.cues {
		if c.Immediate || c.PTS < 0 || media.Duration(c.PTS, 90000) <= t {
			due = append(due, c)
		} else {
			kept = append(kept, c)
		}
	}
	o.cues = kept
	o.cueMu.Unlock()
	for _, c := range due {
		value := ""
		if c.OutOfNetwork {
			value = strconv.FormatUint(uint64(c.EventID), 10)
		}
		o.room.SetAttributes(map[string]string{livekit.AttrIngressOutOfNetworkEventID: value})
		o.s.log.Infow("ad break marker applied", "eventID", c.EventID, "outOfNetwork", c.OutOfNetwork, "mediaTime", t)
	}
}
