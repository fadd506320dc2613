// Package tstest edits MPEG-TS streams for tests: it cuts a stream into
// packets, declares a new elementary stream in the PMT, and carries PSI
// sections (SCTE-35 splice_info_sections) on a PID as TS packets placed
// before chosen video access units. It lets a test turn a TS made by
// ffmpeg into one carrying ad markers, for the demuxer's unit tests and
// for the end-to-end tests alike.
//
// It imports nothing from the project, so that the tests of demux/ts (in
// package ts) can use it without an import cycle: sections are passed in
// already encoded (ts.SpliceInfoSection.Marshal).
//
// Specification: ITU-T Rec. H.222.0 (MPEG-2 Systems): 2.4.3.2 (transport
// packet), 2.4.3.6 (PES header), 2.4.4.3 (PAT), 2.4.4.9 (PMT), Annex A
// (CRC_32).
package tstest

import (
	"bytes"
	"errors"
	"fmt"
)

// PacketSize is the size of an MPEG-TS packet.
const PacketSize = 188

// StreamTypeSCTE35 is the PMT stream_type of SCTE-35 PIDs (ANSI/SCTE 35,
// section 8.1).
const StreamTypeSCTE35 = 0x86

// PID returns the PID of a packet.
func PID(pkt []byte) uint16 { return uint16(pkt[1]&0x1f)<<8 | uint16(pkt[2]) }

// SplitPackets cuts a TS of 188-byte packets into its packets, aliasing in.
func SplitPackets(in []byte) ([][]byte, error) {
	if len(in)%PacketSize != 0 {
		return nil, fmt.Errorf("TS of %d bytes is not a whole number of %d-byte packets", len(in), PacketSize)
	}
	out := make([][]byte, 0, len(in)/PacketSize)
	for p := 0; p < len(in); p += PacketSize {
		if in[p] != 0x47 {
			return nil, fmt.Errorf("no sync byte at offset %d", p)
		}
		out = append(out, in[p:p+PacketSize])
	}
	return out, nil
}

// Payload returns the payload of a packet (after the adaptation field),
// and whether it starts a payload unit (payload_unit_start_indicator).
func Payload(pkt []byte) (payload []byte, pusi bool, err error) {
	pusi = pkt[1]&0x40 != 0
	afc := pkt[3] >> 4 & 0x03
	pos := 4
	if afc&0x02 != 0 {
		pos += 1 + int(pkt[4])
		if pos > PacketSize {
			return nil, pusi, errors.New("adaptation field longer than the packet")
		}
	}
	if afc&0x01 == 0 {
		return nil, pusi, nil
	}
	return pkt[pos:], pusi, nil
}

// section returns the PSI section that starts in a packet (after the
// pointer_field), cut to its section_length.
func section(pkt []byte) ([]byte, error) {
	pl, pusi, err := Payload(pkt)
	if err != nil {
		return nil, err
	}
	if !pusi || len(pl) < 1 || 1+int(pl[0])+3 > len(pl) {
		return nil, errors.New("no section starts in the packet")
	}
	sec := pl[1+int(pl[0]):]
	n := 3 + (int(sec[1]&0x0f)<<8 | int(sec[2]))
	if n > len(sec) || n < 16 {
		return nil, fmt.Errorf("section of %d bytes does not fit one packet", n)
	}
	return sec[:n], nil
}

// PMTPID returns the PMT PID of the first program of the first PAT.
func PMTPID(pkts [][]byte) (uint16, error) {
	for _, p := range pkts {
		if PID(p) != 0 {
			continue
		}
		sec, err := section(p)
		if err != nil {
			return 0, fmt.Errorf("PAT: %w", err)
		}
		for i := 8; i+4 <= len(sec)-4; i += 4 {
			if program := uint16(sec[i])<<8 | uint16(sec[i+1]); program != 0 {
				return uint16(sec[i+2]&0x1f)<<8 | uint16(sec[i+3]), nil
			}
		}
		return 0, errors.New("PAT without a program")
	}
	return 0, errors.New("no PAT")
}

// Stream is an elementary stream declared in a PMT.
type Stream struct {
	Type uint8
	PID  uint16
}

// Streams returns the elementary streams of the first PMT on pmtPID.
func Streams(pkts [][]byte, pmtPID uint16) ([]Stream, error) {
	for _, p := range pkts {
		if PID(p) != pmtPID {
			continue
		}
		sec, err := section(p)
		if err != nil {
			return nil, fmt.Errorf("PMT: %w", err)
		}
		infoLen := int(sec[10]&0x0f)<<8 | int(sec[11])
		var out []Stream
		for i := 12 + infoLen; i+5 <= len(sec)-4; {
			out = append(out, Stream{Type: sec[i], PID: uint16(sec[i+1]&0x1f)<<8 | uint16(sec[i+2])})
			i += 5 + (int(sec[i+3]&0x0f)<<8 | int(sec[i+4]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("no PMT on PID %d", pmtPID)
}

// AddStreamToPMT returns a copy of a one-packet PMT with an elementary
// stream of the given type and PID appended (no descriptors), its
// section_length and CRC_32 updated.
//
// Specification: ITU-T Rec. H.222.0, section 2.4.4.9 (TS_program_map_section).
func AddStreamToPMT(pkt []byte, streamType uint8, pid uint16) ([]byte, error) {
	sec, err := section(pkt)
	if err != nil {
		return nil, fmt.Errorf("PMT: %w", err)
	}
	if pkt[3]&0x30 != 0x10 {
		return nil, errors.New("PMT packet with an adaptation field")
	}
	body := bytes.Clone(sec[:len(sec)-4]) // without CRC
	body = append(body, streamType, 0xe0|byte(pid>>8), byte(pid), 0xf0, 0)
	l := len(body) + 4 - 3
	body[1] = body[1]&0xf0 | byte(l>>8)
	body[2] = byte(l)
	body = BE32Append(body, CRC32MPEG2(body))
	out := append(bytes.Clone(pkt[:4]), 0) // header, pointer_field 0
	out = append(out, body...)
	if len(out) > PacketSize {
		return nil, fmt.Errorf("PMT of %d bytes does not fit one packet", len(out))
	}
	for len(out) < PacketSize {
		out = append(out, 0xff)
	}
	return out, nil
}

// SectionPackets carries a section on pid in packets of at most chunk
// payload bytes each (the first starting with the pointer_field), padded
// with adaptation-field stuffing, so that the section spans several
// packets when chunk is small. cc is the PID's continuity_counter.
func SectionPackets(pid uint16, section []byte, chunk int, cc *byte) [][]byte {
	data := append([]byte{0}, section...) // pointer_field
	var out [][]byte
	for first := true; len(data) > 0; first = false {
		n := min(chunk, len(data), PacketSize-4)
		pkt := []byte{0x47, byte(pid >> 8 & 0x1f), byte(pid), 0x10 | *cc&0x0f}
		*cc++
		if first {
			pkt[1] |= 0x40
		}
		if pad := PacketSize - 4 - n; pad > 0 {
			pkt[3] |= 0x20
			pkt = append(pkt, byte(pad-1))
			if pad > 1 {
				pkt = append(pkt, 0x00)
				pkt = append(pkt, bytes.Repeat([]byte{0xff}, pad-2)...)
			}
		}
		pkt = append(pkt, data[:n]...)
		data = data[n:]
		out = append(out, pkt)
	}
	return out
}

// PESStarts returns the indices of the packets of pid that start a PES
// with a PTS, and that PTS (33-bit, as in the stream), in stream
// (decoding) order.
//
// Specification: ITU-T Rec. H.222.0, section 2.4.3.6 (PES_packet).
func PESStarts(pkts [][]byte, pid uint16) (idx []int, pts []int64) {
	for i, p := range pkts {
		if PID(p) != pid {
			continue
		}
		pl, pusi, err := Payload(p)
		if err != nil || !pusi || len(pl) < 14 || pl[7]&0x80 == 0 {
			continue
		}
		v := int64(pl[9]>>1&7)<<30 | int64(pl[10])<<22 | int64(pl[11]>>1)<<15 | int64(pl[12])<<7 | int64(pl[13]>>1)
		idx = append(idx, i)
		pts = append(pts, v)
	}
	return idx, pts
}

// Insert returns the stream of pkts with the packets of before[i] put in
// front of packet i, and every PMT packet (on pmtPID) replaced by
// AddStreamToPMT(pmt, streamType, pid).
func Insert(pkts [][]byte, pmtPID uint16, streamType uint8, pid uint16, before map[int][][]byte) ([]byte, error) {
	var res []byte
	for i, p := range pkts {
		for _, q := range before[i] {
			res = append(res, q...)
		}
		if PID(p) == pmtPID {
			var err error
			if p, err = AddStreamToPMT(p, streamType, pid); err != nil {
				return nil, err
			}
		}
		res = append(res, p...)
	}
	return res, nil
}

// BE32Append appends v big-endian.
func BE32Append(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// CRC32MPEG2 is the CRC of MPEG-2 sections: polynomial 0x04C11DB7,
// initial value 0xFFFFFFFF, no reflection, no final XOR.
//
// Specification: ITU-T Rec. H.222.0, Annex A.
func CRC32MPEG2(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, v := range b {
		crc ^= uint32(v) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
