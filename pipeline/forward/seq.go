package forward

import "github.com/pion/rtp"

// seqRewriter drops padding-only packets, which a browser sends to probe
// bandwidth and which carry nothing for a viewer, and shifts the sequence
// numbers of the packets after them so the room sees no gap (a gap would
// be NACKed and count as loss).
//
// It is used by the one goroutine reading its stream.
type seqRewriter struct {
	dropped uint16
}

// rewrite reports whether p is to be forwarded, after renumbering it.
func (r *seqRewriter) rewrite(p *rtp.Packet) bool {
	if len(p.Payload) == 0 {
		r.dropped++
		return false
	}
	p.SequenceNumber -= r.dropped
	return true
}
