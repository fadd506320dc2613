// Package av1 parses the AV1CodecConfigurationRecord (the codec-private
// data of AV1 in MP4 'av1C' and Enhanced RTMP) and the sequence header it
// carries, enough to describe an AV1 track.
//
// The record is our own code (mediacommon v2.5.0 has none); the sequence
// header is parsed by github.com/bluenviron/mediacommon/v2/pkg/codecs/av1.
//
// Specification: AV1 Codec ISO Media File Format Binding, section 2.3;
// AV1 Bitstream & Decoding Process, sections 5.3 and 5.5.
package av1

import (
	"errors"
	"fmt"

	mcav1 "github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
)

// MaxDimension bounds the frame size a sequence header may declare. AV1
// allows 65536, but no level up to 7.3 admits a side above 16888: larger
// values come from corrupt or hostile streams.
const MaxDimension = 16384

// configHeaderSize is the fixed part of the record before configOBUs.
const configHeaderSize = 4

// obuTypeSequenceHeader is obu_type OBU_SEQUENCE_HEADER.
const obuTypeSequenceHeader = 1

// Config is an AV1CodecConfigurationRecord.
type Config struct {
	SeqProfile   uint8
	SeqLevelIdx0 uint8
	SeqTier0     bool
	HighBitdepth bool
	TwelveBit    bool
	Monochrome   bool
	// ConfigOBUs aliases the parsed buffer: zero or more OBUs in
	// low-overhead format, normally one sequence header.
	ConfigOBUs []byte
	// Width and Height come from the sequence header (maximum frame
	// size); 0 when the record carries none.
	Width, Height int
}

// ParseConfig parses a record.
func ParseConfig(buf []byte) (*Config, error) {
	if len(buf) < configHeaderSize {
		return nil, errors.New("AV1CodecConfigurationRecord truncated")
	}
	if buf[0] != 0x81 { // marker 1, version 1
		return nil, fmt.Errorf("unsupported AV1CodecConfigurationRecord marker/version 0x%02x", buf[0])
	}
	c := &Config{
		SeqProfile:   buf[1] >> 5,
		SeqLevelIdx0: buf[1] & 0x1f,
		SeqTier0:     buf[2]&0x80 != 0,
		HighBitdepth: buf[2]&0x40 != 0,
		TwelveBit:    buf[2]&0x20 != 0,
		Monochrome:   buf[2]&0x10 != 0,
		ConfigOBUs:   buf[configHeaderSize:],
	}
	if sh := findSequenceHeader(c.ConfigOBUs); sh != nil {
		var h mcav1.SequenceHeader
		if err := h.Unmarshal(sh); err != nil {
			return nil, fmt.Errorf("parse AV1 sequence header: %w", err)
		}
		c.Width, c.Height = h.Width(), h.Height()
		if c.Width > MaxDimension || c.Height > MaxDimension {
			return nil, fmt.Errorf("AV1 sequence header gives an invalid size %dx%d", c.Width, c.Height)
		}
	}
	return c, nil
}

// findSequenceHeader returns the first sequence header OBU of a
// low-overhead bitstream (header, size field and payload), or nil.
func findSequenceHeader(buf []byte) []byte {
	for len(buf) > 0 {
		hdr := buf[0]
		hl := 1
		if hdr&0x04 != 0 { // obu_extension_flag
			hl = 2
		}
		if hdr&0x02 == 0 || len(buf) < hl { // no obu_has_size_field: cannot walk on
			return nil
		}
		size, n := readLEB128(buf[hl:])
		if n == 0 || uint64(len(buf)-hl-n) < size {
			return nil
		}
		end := hl + n + int(size)
		if (hdr>>3)&0x0f == obuTypeSequenceHeader && hl == 1 {
			return buf[:end]
		}
		buf = buf[end:]
	}
	return nil
}

// readLEB128 reads an unsigned LEB128 of at most 8 bytes; n is 0 on error.
func readLEB128(buf []byte) (v uint64, n int) {
	for i := 0; i < 8 && i < len(buf); i++ {
		v |= uint64(buf[i]&0x7f) << (7 * i)
		if buf[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// ContainsSequenceHeader reports whether a temporal unit (low-overhead
// format) carries a sequence header, which encoders send with every
// keyframe.
func ContainsSequenceHeader(tu []byte) bool {
	return findSequenceHeader(tu) != nil
}
