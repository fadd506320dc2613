package forward

import "github.com/pion/rtp"

// maxLate is how far behind the newest packet (in sequence numbers) a
// packet is still renumbered and forwarded: a retransmission or a
// reordered packet. Older ones cannot be placed and are dropped.
const maxLate = 1024

// seqRewriter drops padding-only packets, which a browser sends to probe
// bandwidth and which carry nothing for a viewer, and shifts the sequence
// numbers of the packets after them so the room sees no gap (a gap would
// be NACKed and count as loss).
//
// A packet that arrives after newer ones (a retransmission the NACK
// generator asked for, a reordered or repeated packet) is shifted by the
// paddings dropped before it only, so that it takes the place it would
// have taken in order: shifted by every padding dropped since, it would
// land on another packet's number (filling that one's gap with the wrong
// payload, or taken for a duplicate). So the numbers of the paddings
// dropped within maxLate of the newest packet are kept (at most maxLate
// of them, 2 KiB). A late padding packet is forwarded, renumbered, to
// fill its place (the packets after it were numbered without dropping
// it); a repeated one that was dropped is dropped again.
//
// It is used by the one goroutine reading its stream.
type seqRewriter struct {
	started bool
	newest  uint16   // the newest sequence number seen
	dropped uint16   // paddings dropped so far
	pads    []uint16 // the dropped paddings within maxLate of newest, oldest first
}

// rewrite reports whether p is to be forwarded, after renumbering it.
func (r *seqRewriter) rewrite(p *rtp.Packet) bool {
	s := p.SequenceNumber
	if !r.started {
		r.started, r.newest = true, s-1
	}
	if d := int16(s - r.newest); d > 0 {
		r.newest = s
		r.forget()
		if len(p.Payload) == 0 {
			r.pads = append(r.pads, s)
			r.dropped++
			return false
		}
		p.SequenceNumber = s - r.dropped
		return true
	} else if d <= -maxLate {
		return false
	}
	// Behind the newest: shifted by the paddings dropped before it.
	after := 0
	for i := len(r.pads) - 1; i >= 0; i-- {
		d := int16(r.pads[i] - s)
		if d == 0 {
			return false // a dropped padding again
		}
		if d < 0 {
			break
		}
		after++
	}
	p.SequenceNumber = s - (r.dropped - uint16(after))
	return true
}

// forget drops the paddings too far behind the newest packet to matter.
func (r *seqRewriter) forget() {
	n := 0
	for n < len(r.pads) && int16(r.newest-r.pads[n]) >= maxLate {
		n++
	}
	if n > 0 {
		r.pads = append(r.pads[:0], r.pads[n:]...)
	}
}
