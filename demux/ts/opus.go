package ts

import (
	"encoding/binary"
)

const opusClockRate = 48000

// splitOpusAUs splits the payload of an Opus PES packet into Opus packets,
// each preceded by an opus_control_header.
//
// Specification: ETSI TS Opus 0.1.3-draft, section 5.2 (opus_control_header).
func splitOpusAUs(buf []byte) ([][]byte, error) {
	var out [][]byte
	for len(buf) > 0 {
		if len(buf) < 2 || buf[0] != 0x7f || buf[1]&0xe0 != 0xe0 {
			return out, errs.Malformed("Opus control header prefix")
		}
		startTrim, endTrim, ext := buf[1]&0x10 != 0, buf[1]&0x08 != 0, buf[1]&0x04 != 0
		buf = buf[2:]
		size := 0
		for {
			if len(buf) < 1 {
				return out, errs.Malformed("Opus au_size truncated")
			}
			b := buf[0]
			buf = buf[1:]
			size += int(b)
			if b != 0xff {
				break
			}
		}
		skip := 0
		if startTrim {
			skip += 2
		}
		if endTrim {
			skip += 2
		}
		if len(buf) < skip {
			return out, errs.Malformed("Opus trim truncated")
		}
		buf = buf[skip:]
		if ext {
			if len(buf) < 1 || len(buf) < 1+int(buf[0]) {
				return out, errs.Malformed("Opus control extension truncated")
			}
			buf = buf[1+int(buf[0]):]
		}
		if size == 0 || size > len(buf) {
			return out, errs.Malformed("Opus au_size %d, %d bytes left", size, len(buf))
		}
		out = append(out, buf[:size:size])
		buf = buf[size:]
	}
	return out, nil
}

// opusPacketSamples returns the duration of an Opus packet in 48 kHz
// samples, 0 when the packet is invalid.
//
// Specification: RFC 6716, section 3.1 (TOC byte) and 3.2.5 (code 3).
func opusPacketSamples(p []byte) int {
	if len(p) < 1 {
		return 0
	}
	toc := p[0]
	config := int(toc >> 3)
	var frame int // in 48 kHz samples
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{480, 960, 1920, 2880}[config&3]
	case config < 16: // Hybrid: 10, 20 ms
		frame = []int{480, 960}[config&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{120, 240, 480, 960}[config&3]
	}
	var n int
	switch toc & 3 {
	case 0:
		n = 1
	case 1, 2:
		n = 2
	default:
		if len(p) < 2 {
			return 0
		}
		n = int(p[1] & 0x3f)
	}
	return n * frame
}

// opusHead builds the OpusHead of a mono or stereo stream (mapping family
// 0); the TS descriptor carries no pre-skip.
//
// Specification: RFC 7845, section 5.1.
func opusHead(channels int) []byte {
	b := make([]byte, 19)
	copy(b, "OpusHead")
	b[8] = 1
	b[9] = byte(channels)
	binary.LittleEndian.PutUint32(b[12:], opusClockRate)
	return b
}
