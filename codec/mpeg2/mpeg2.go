// Package mpeg2 reads what Tributary needs from an MPEG-1 or MPEG-2 video
// elementary stream: the sequence header (picture size, frame rate) that a
// decoder needs before the first picture, and the coding type of a
// picture, which tells a random-access point. Own code: no Go library
// parses MPEG-2 video headers.
//
// Specification: ISO/IEC 13818-2 (ITU-T H.262), sections 6.2.2 (sequence
// header and extension) and 6.2.3 (picture header); ISO/IEC 11172-2 for
// MPEG-1.
package mpeg2

import (
	"errors"
)

// Start codes (the byte after 00 00 01), Table 6-1.
const (
	StartPicture   = 0x00
	StartUserData  = 0xb2
	StartSequence  = 0xb3
	StartExtension = 0xb5
	StartSeqEnd    = 0xb7
	StartGOP       = 0xb8
)

// Picture coding types, Table 6-12.
const (
	PictureI = 1
	PictureP = 2
	PictureB = 3
)

// MaxConfigSize bounds the sequence header with its extensions that is
// kept as a track's configuration: 12 bytes, two 64-byte quantiser
// matrices, a sequence extension (10), a display extension (12) and a
// scalable extension is well under 512 bytes.
const MaxConfigSize = 1024

// Info is what one access unit (a picture, with the headers before it)
// says.
type Info struct {
	// Sequence is true when the unit starts with a sequence header;
	// Width, Height, FrameRate and Config are then set.
	Sequence bool
	// MPEG2 is true when a sequence extension follows the sequence
	// header (MPEG-2 rather than MPEG-1).
	MPEG2 bool
	// Width and Height are the picture size, the 12 bits of the sequence
	// header and the 2 of the extension.
	Width, Height int
	// FrameRateNum/FrameRateDen is the frame rate, 0/0 when the code is
	// reserved.
	FrameRateNum, FrameRateDen int
	// Config is the sequence header and the extensions that follow it,
	// up to the next group of pictures or picture (aliasing the input),
	// nil when it would exceed MaxConfigSize.
	Config []byte
	// PictureType is the coding type of the first picture, 0 when the
	// unit has none.
	PictureType int
}

// ErrNoStartCode is returned for input without a start code.
var ErrNoStartCode = errors.New("MPEG video: no start code")

// frameRates by frame_rate_code, Table 6-4.
var frameRates = [9][2]int{
	{0, 0}, {24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {50, 1}, {60000, 1001}, {60, 1},
}

// nextStartCode returns the position of the next 00 00 01 at or after
// from, or -1.
func nextStartCode(b []byte, from int) int {
	for i := from; i+2 < len(b); i++ {
		if b[i+2] > 1 {
			i += 2
			continue
		}
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			return i
		}
	}
	return -1
}

// Parse reads the headers of an access unit: the elementary stream bytes
// of one picture and the sequence, extension and GOP headers before it.
func Parse(au []byte) (Info, error) {
	var info Info
	pos := nextStartCode(au, 0)
	if pos < 0 {
		return info, ErrNoStartCode
	}
	seqStart := -1
	for pos >= 0 && pos+3 < len(au) {
		code := au[pos+3]
		body := au[pos+4:]
		next := nextStartCode(au, pos+4)
		if next >= 0 {
			body = au[pos+4 : next]
		}
		switch code {
		case StartSequence:
			if len(body) < 7 {
				return info, errors.New("MPEG video: short sequence header")
			}
			info.Sequence = true
			seqStart = pos
			info.Width = int(body[0])<<4 | int(body[1])>>4
			info.Height = int(body[1]&0x0f)<<8 | int(body[2])
			if rc := int(body[3] & 0x0f); rc < len(frameRates) {
				info.FrameRateNum, info.FrameRateDen = frameRates[rc][0], frameRates[rc][1]
			}
			if info.Width == 0 || info.Height == 0 {
				return info, errors.New("MPEG video: sequence header with an empty picture size")
			}
		case StartExtension:
			// Sequence extension (extension_start_code_identifier 1):
			// size and frame rate extensions.
			if info.Sequence && len(body) >= 6 && body[0]>>4 == 1 {
				info.MPEG2 = true
				info.Width |= (int(body[1]&0x01)<<1 | int(body[2]>>7)) << 12
				info.Height |= int(body[2]>>5&0x03) << 12
				if info.FrameRateDen != 0 {
					info.FrameRateNum *= int(body[5]>>5&0x03) + 1
					info.FrameRateDen *= int(body[5]&0x1f) + 1
				}
			}
		case StartGOP, StartPicture:
			if seqStart >= 0 && info.Config == nil && pos-seqStart <= MaxConfigSize {
				info.Config = au[seqStart:pos:pos]
			}
			if code == StartPicture {
				if len(body) < 2 {
					return info, errors.New("MPEG video: short picture header")
				}
				info.PictureType = int(body[1] >> 3 & 0x07)
				return info, nil
			}
		}
		pos = next
	}
	if seqStart >= 0 && info.Config == nil && len(au)-seqStart <= MaxConfigSize {
		info.Config = au[seqStart:]
	}
	return info, nil
}
