package ts

import (
	"errors"
	"io"
)

// packetReader is the io.Reader astits reads: it hands over one checked
// 188-byte packet per Read. On the way it
//   - stops at the first packet without sync byte (demux.ErrMalformed) and at a
//     partial last packet (demux.ErrTruncated), keeping the error for Run;
//   - bounds every PID's payload unit by MaxPESSize;
//   - takes the packets of SCTE-35 PIDs out of the stream and assembles
//     their sections itself, so that a section is parsed when its last
//     packet arrives (astits would deliver it only when the next section
//     starts).
//
// Specification: ITU-T Rec. H.222.0, section 2.4.3.2 (packet header),
// 2.4.3.4 (adaptation field), 2.4.4.2 (pointer_field).
type packetReader struct {
	d   *Demuxer
	r   io.Reader
	buf [PacketSize]byte
	// err is the error that ended the stream (nil at a clean end).
	err error
	n   uint64
	// units tracks each PID's payload unit in progress.
	units map[uint16]*unitState
}

type unitState struct {
	size int
	// want is the PES packet size announced by PES_packet_length (header
	// included), 0 when unbounded (video).
	want int
}

func (p *packetReader) Read(out []byte) (int, error) {
	if p.err != nil {
		return 0, io.EOF
	}
	for {
		n, err := io.ReadFull(p.r, p.buf[:])
		switch {
		case err == io.EOF:
			p.checkUnitsComplete()
			return 0, io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF):
			p.err = errs.Truncated("last packet has %d of %d bytes", n, PacketSize)
			return 0, io.EOF
		case err != nil:
			p.err = err
			return 0, io.EOF
		}
		if p.buf[0] != 0x47 {
			p.err = errs.Malformed("packet %d does not start with the sync byte 0x47 (0x%02x)", p.n, p.buf[0])
			return 0, io.EOF
		}
		p.n++
		p.d.stats.Packets++
		pid, payload, pusi, ok := packetPayload(p.buf[:])
		if !ok {
			p.err = errs.Malformed("packet %d: adaptation field longer than the packet", p.n)
			return 0, io.EOF
		}
		if p.d.scte35PIDs[pid] {
			p.d.scte35Packet(pid, payload, pusi)
			continue
		}
		if err := p.track(pid, payload, pusi); err != nil {
			p.err = err
			return 0, io.EOF
		}
		return copy(out, p.buf[:]), nil
	}
}

// packetPayload returns the PID, the payload and the
// payload_unit_start_indicator of a packet.
func packetPayload(pkt []byte) (pid uint16, payload []byte, pusi bool, ok bool) {
	pid = uint16(pkt[1]&0x1f)<<8 | uint16(pkt[2])
	pusi = pkt[1]&0x40 != 0
	afc := pkt[3] >> 4 & 0x03
	pos := 4
	if afc&0x02 != 0 {
		pos += 1 + int(pkt[4])
		if pos > PacketSize {
			return pid, nil, pusi, false
		}
	}
	if afc&0x01 == 0 {
		return pid, nil, pusi, true
	}
	return pid, pkt[pos:], pusi, true
}

// track bounds the payload unit of elementary-stream PIDs.
func (p *packetReader) track(pid uint16, payload []byte, pusi bool) error {
	if _, ok := p.d.streams[pid]; !ok {
		return nil
	}
	if p.units == nil {
		p.units = map[uint16]*unitState{}
	}
	u := p.units[pid]
	if u == nil {
		u = &unitState{}
		p.units[pid] = u
	}
	if pusi {
		u.size, u.want = 0, 0
		if len(payload) >= 6 && payload[0] == 0 && payload[1] == 0 && payload[2] == 1 {
			if l := int(payload[4])<<8 | int(payload[5]); l > 0 {
				u.want = 6 + l
			}
		}
	}
	u.size += len(payload)
	if u.size > MaxPESSize {
		return errs.OverLimit("PES packet on PID %d larger than %d bytes", pid, MaxPESSize)
	}
	return nil
}

// checkUnitsComplete reports a PES packet cut by the end of the input:
// the only truncation a stream that ends on a packet boundary shows.
func (p *packetReader) checkUnitsComplete() {
	for pid, u := range p.units {
		if u.want > 0 && u.size < u.want {
			p.err = errs.Truncated("PES packet on PID %d has %d of %d bytes", pid, u.size, u.want)
			return
		}
	}
}
