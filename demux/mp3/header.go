package mp3

import (
	"bytes"

	"github.com/tributary-ingress/tributary/codec/mp3"
)

// headerSize is the size of a frame header; the codec/mp3 parser
// (mediacommon's) wants one byte more.
const (
	headerSize      = 4
	parseHeaderSize = 5
)

// frameHeader is a parsed header with what codec/mp3 does not give: the
// frame length and the fields a following header must repeat.
type frameHeader struct {
	mp3.FrameHeader
	length  int
	crc     bool
	mono    bool
	fixedID uint32 // version, layer and sample rate bits
}

// parseHeader parses the frame header at the start of buf (at least
// parseHeaderSize bytes).
//
// Specification: ISO/IEC 11172-3, 2.4.2.3; the frame length is
// 144·bitrate/rate (+1 padding byte) for Layer II and MPEG-1 Layer III,
// 72·bitrate/rate for MPEG-2 Layer III, whose frames hold 576 samples.
func parseHeader(buf []byte) (frameHeader, bool) {
	h, err := mp3.ParseFrameHeader(buf)
	if err != nil || h.SampleRate == 0 || h.Bitrate == 0 {
		return frameHeader{}, false
	}
	length := h.Length
	if length < headerSize || length > maxFrameSize {
		return frameHeader{}, false
	}
	return frameHeader{
		FrameHeader: h,
		length:      length,
		crc:         buf[1]&0x01 == 0,
		mono:        buf[3]>>6 == 3,
		fixedID:     uint32(buf[1])&0x1e<<8 | uint32(buf[2])&0x0c,
	}, true
}

// isInfoFrame reports whether a whole frame is a Xing/Info or VBRI
// header frame, which carries stream information instead of audio.
func isInfoFrame(h frameHeader, frame []byte) bool {
	// Xing/Info sits after the side information.
	side := 32
	switch {
	case h.MPEG2 && h.mono:
		side = 9
	case h.MPEG2 || h.mono:
		side = 17
	}
	off := headerSize + side
	if h.crc {
		off += 2
	}
	if len(frame) >= off+4 {
		if tag := frame[off : off+4]; bytes.Equal(tag, []byte("Xing")) || bytes.Equal(tag, []byte("Info")) {
			return true
		}
	}
	// VBRI (Fraunhofer) sits 32 bytes after the header.
	const vbriOffset = headerSize + 32
	return len(frame) >= vbriOffset+4 && bytes.Equal(frame[vbriOffset:vbriOffset+4], []byte("VBRI"))
}
