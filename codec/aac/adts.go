package aac

import (
	"errors"
	"fmt"
)

// ErrNotADTS is returned when a buffer does not start with an ADTS sync
// word.
var ErrNotADTS = errors.New("not an ADTS frame")

// ADTSHeader is the fixed and variable header of an ADTS frame.
//
// Own code: mediacommon's ADTSPackets refuses frames with a CRC
// (protection_absent = 0), which encoders do emit.
//
// Specification: ISO/IEC 14496-3, section 1.A.2.2 (Table 1.A.5 ff.).
type ADTSHeader struct {
	ObjectType int
	SampleRate int
	Channels   int
	// HeaderLen is 7, or 9 with a CRC.
	HeaderLen int
	// FrameLen is the whole frame including the header.
	FrameLen int
}

// ParseADTSHeader parses the header at the start of buf.
func ParseADTSHeader(buf []byte) (ADTSHeader, error) {
	var h ADTSHeader
	if len(buf) < 7 {
		return h, fmt.Errorf("%w: %d bytes", ErrNotADTS, len(buf))
	}
	if buf[0] != 0xff || buf[1]&0xf6 != 0xf0 {
		return h, ErrNotADTS
	}
	h.HeaderLen = 7
	if buf[1]&0x01 == 0 {
		h.HeaderLen = 9
	}
	h.ObjectType = int(buf[2]>>6) + 1
	idx := int(buf[2]>>2) & 0x0f
	if idx >= len(sampleRates) {
		return h, fmt.Errorf("ADTS: reserved sample rate index %d", idx)
	}
	h.SampleRate = sampleRates[idx]
	h.Channels = channelCounts[(buf[2]&0x01)<<2|buf[3]>>6]
	h.FrameLen = int(buf[3]&0x03)<<11 | int(buf[4])<<3 | int(buf[5])>>5
	if buf[6]&0x03 != 0 {
		return h, errors.New("ADTS: more than one raw data block per frame is not supported")
	}
	if h.FrameLen <= h.HeaderLen {
		return h, fmt.Errorf("ADTS: frame length %d", h.FrameLen)
	}
	return h, nil
}

// Config returns the AudioSpecificConfig the header describes.
func (h ADTSHeader) Config() ([]byte, error) {
	return MarshalConfig(h.ObjectType, h.SampleRate, h.Channels)
}

// SplitADTS splits a sequence of ADTS frames into raw AAC frames (headers
// stripped), aliasing buf. It returns the first header too.
func SplitADTS(buf []byte) ([][]byte, ADTSHeader, error) {
	var first ADTSHeader
	n := 0
	for pos := 0; pos < len(buf); n++ {
		h, err := ParseADTSHeader(buf[pos:])
		if err != nil {
			return nil, first, err
		}
		if h.FrameLen > len(buf)-pos {
			return nil, first, fmt.Errorf("ADTS: frame of %d bytes, %d left", h.FrameLen, len(buf)-pos)
		}
		if n == 0 {
			first = h
		}
		pos += h.FrameLen
	}
	if n == 0 {
		return nil, first, ErrNotADTS
	}
	out := make([][]byte, 0, n)
	for pos := 0; pos < len(buf); {
		h, _ := ParseADTSHeader(buf[pos:])
		out = append(out, buf[pos+h.HeaderLen:pos+h.FrameLen:pos+h.FrameLen])
		pos += h.FrameLen
	}
	return out, first, nil
}
