package room

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"

	"github.com/pion/rtp"
)

// rtpPayloadMTU is the largest RTP payload written, as the SDK's own
// packetizer uses and its size-limit interceptor enforces (1200 bytes).
const rtpPayloadMTU = 1200

// errOutOfOrderFrame is returned for a frame whose RTP timestamp is behind
// the previous one's, which the SDK's sample writer rejected as well.
var errOutOfOrderFrame = errors.New("video frame: timestamp moves backward")

// H.264 NAL unit types (RFC 6184).
const (
	naluSPS    = 7
	naluPPS    = 8
	naluAUD    = 9
	naluFiller = 12
	naluSTAPA  = 24
	naluFUA    = 28
)

// vp8DescriptorSize is the RFC 7741 payload descriptor written: X, I and
// a 15-bit PictureID (as libwebrtc and pion's VP8Payloader with
// EnablePictureID, which the SDK uses, so an SFU can rewrite it in place).
const vp8DescriptorSize = 4

// packetizer turns access units into RTP packets without allocating: one
// rtp.Packet and one payload buffer are reused for every packet, and each
// packet is handed to write before the next one is built. write must not
// retain the packet or its payload after it returns (LocalTrack.WriteRTP
// marshals and encrypts it synchronously; pion's NACK responder and the
// SDK's pacer copy what they keep).
//
// Payload type and SSRC are left 0: the track binding sets them, as for
// the SDK's own packetizer. A packetizer is used by one goroutine.
type packetizer struct {
	mtu   int
	write func(*rtp.Packet) error

	pkt rtp.Packet
	buf []byte // mtu bytes
	seq uint16

	pictureID uint16 // VP8, 15 bits

	lastTS  uint32
	started bool
	err     error // first write error of the current access unit

	// H.264: SPS/PPS being aggregated into a STAP-A in buf.
	stapLen int    // bytes used in buf, 0 if none pending
	stapN   int    // NAL units pending
	stapHdr byte   // F and NRI of the STAP-A header
	stapOne []byte // the first pending NAL unit, sent alone if no other joins it
}

func newPacketizer(mtu int, write func(*rtp.Packet) error) *packetizer {
	p := &packetizer{
		mtu:       mtu,
		write:     write,
		buf:       make([]byte, mtu),
		seq:       uint16(rand.Uint32()),
		pictureID: uint16(rand.Uint32()) & 0x7fff,
	}
	p.pkt.Version = 2
	// Room for the MID/RID header extensions LocalTrack.WriteRTP adds to
	// simulcast packets until the server acknowledges the SSRC.
	p.pkt.Extensions = make([]rtp.Extension, 0, 4)
	return p
}

// begin starts an access unit at timestamp ts.
func (p *packetizer) begin(ts uint32) error {
	if p.started && ts-p.lastTS > 1<<31 {
		return errOutOfOrderFrame
	}
	p.lastTS, p.started = ts, true
	p.pkt.Timestamp = ts
	p.err = nil
	return nil
}

// send writes one packet with the given payload.
func (p *packetizer) send(payload []byte, marker bool) {
	h := &p.pkt.Header
	h.Marker = marker
	h.SequenceNumber = p.seq
	p.seq++
	// WriteRTP may have added header extensions to the previous packet.
	h.Extension = false
	h.ExtensionProfile = 0
	h.Extensions = h.Extensions[:0]
	h.Padding, h.PaddingSize, p.pkt.PaddingSize = false, 0, 0
	p.pkt.Payload = payload
	if err := p.write(&p.pkt); err != nil && p.err == nil {
		p.err = err
	}
	p.pkt.Payload = nil
}

// H264 packetizes one access unit given as NAL units without start codes
// (RFC 6184, packetization-mode 1): a NAL unit that fits one packet goes
// as a single NAL unit packet, a larger one as FU-A fragments, and SPS and
// PPS are aggregated into one STAP-A as pion's H264Payloader does. AUD and
// filler NAL units are dropped. The marker bit is set on the last packet.
// The NAL units are not modified.
func (p *packetizer) H264(nals [][]byte, ts uint32) error {
	if err := p.begin(ts); err != nil {
		return err
	}
	last := -1
	for i, n := range nals {
		if len(n) > 0 {
			if t := n[0] & 0x1f; t != naluAUD && t != naluFiller {
				last = i
			}
		}
	}
	for i, n := range nals {
		if len(n) == 0 {
			continue
		}
		t := n[0] & 0x1f
		if t == naluAUD || t == naluFiller {
			continue
		}
		if t == naluSPS || t == naluPPS {
			if p.stapN > 0 && p.stapLen+2+len(n) > p.mtu {
				p.flushSTAPA(false)
			}
			if 1+2+len(n) <= p.mtu {
				p.addSTAPA(n)
				continue
			}
		}
		p.flushSTAPA(false)
		p.nalu(n, i == last)
	}
	p.flushSTAPA(true)
	return p.err
}

func (p *packetizer) addSTAPA(n []byte) {
	if p.stapN == 0 {
		p.stapLen, p.stapHdr, p.stapOne = 1, 0, n
	}
	binary.BigEndian.PutUint16(p.buf[p.stapLen:], uint16(len(n)))
	copy(p.buf[p.stapLen+2:], n)
	p.stapLen += 2 + len(n)
	p.stapN++
	// F is the OR of the aggregated units' F bits, NRI their maximum.
	f := (p.stapHdr | n[0]) & 0x80
	nri := max(p.stapHdr&0x60, n[0]&0x60)
	p.stapHdr = f | nri
}

// flushSTAPA sends the pending parameter sets, if any.
func (p *packetizer) flushSTAPA(marker bool) {
	switch p.stapN {
	case 0:
		return
	case 1:
		p.send(p.stapOne, marker)
	default:
		p.buf[0] = p.stapHdr | naluSTAPA
		p.send(p.buf[:p.stapLen], marker)
	}
	p.stapLen, p.stapN, p.stapOne = 0, 0, nil
}

// nalu sends one NAL unit, fragmented if it does not fit.
func (p *packetizer) nalu(n []byte, last bool) {
	if len(n) <= p.mtu {
		// The payload is the caller's bytes: nothing keeps or modifies it.
		p.send(n, last)
		return
	}
	ind := n[0]&0xe0 | naluFUA
	typ := n[0] & 0x1f
	data := n[1:]
	room := p.mtu - 2
	for start := true; len(data) > 0; start = false {
		k := min(room, len(data))
		end := k == len(data)
		p.buf[0] = ind
		p.buf[1] = typ
		if start {
			p.buf[1] |= 0x80
		}
		if end {
			p.buf[1] |= 0x40
		}
		copy(p.buf[2:], data[:k])
		p.send(p.buf[:2+k], last && end)
		data = data[k:]
	}
}

// VP8 packetizes one VP8 frame, given as one or more byte slices to be
// concatenated (RFC 7741): each packet starts with a 4-byte payload
// descriptor (X, I, 15-bit PictureID, partition index 0) with S set on the
// first packet only; the marker bit is set on the last. The frame's bytes
// are not modified.
func (p *packetizer) VP8(parts [][]byte, ts uint32) error {
	if err := p.begin(ts); err != nil {
		return err
	}
	size := 0
	for _, b := range parts {
		size += len(b)
	}
	if size == 0 {
		return nil
	}
	room := p.mtu - vp8DescriptorSize
	pi, off := 0, 0 // read position: parts[pi][off:]
	for first := true; size > 0; first = false {
		k := min(room, size)
		size -= k
		p.buf[0] = 0x80 // X
		if first {
			p.buf[0] |= 0x10 // S, partition index 0
		}
		p.buf[1] = 0x80 // I
		binary.BigEndian.PutUint16(p.buf[2:], 0x8000|p.pictureID)
		out := p.buf[vp8DescriptorSize : vp8DescriptorSize+k]
		for len(out) > 0 {
			c := copy(out, parts[pi][off:])
			out = out[c:]
			off += c
			if off == len(parts[pi]) {
				pi, off = pi+1, 0
			}
		}
		p.send(p.buf[:vp8DescriptorSize+k], size == 0)
	}
	p.pictureID = (p.pictureID + 1) & 0x7fff
	return p.err
}
