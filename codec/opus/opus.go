// Package opus parses the Opus identification header ("OpusHead"), the
// codec-private data of Opus in Ogg, Matroska, MP4 ('dOps', in another
// layout) and Enhanced RTMP.
//
// Own code: mediacommon v2.5.0 has no OpusHead parser.
//
// Specification: RFC 7845, section 5.1.
package opus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// ClockRate is the rate of Opus timestamps, whatever the input rate.
const ClockRate = 48000

// headSize is the size of an OpusHead without a channel mapping table.
const headSize = 19

var magic = []byte("OpusHead")

// Head is an Opus identification header.
type Head struct {
	Version  uint8
	Channels int
	// PreSkip is the number of 48 kHz samples to discard at the start.
	PreSkip int
	// InputSampleRate is informational (the rate before encoding); 0 when
	// unspecified.
	InputSampleRate int
	// OutputGain is in Q7.8 dB.
	OutputGain int16
	// MappingFamily is 0 for mono/stereo, 1 for Vorbis-order surround.
	MappingFamily uint8
	StreamCount   int
	CoupledCount  int
	// ChannelMapping aliases the parsed buffer; nil for family 0.
	ChannelMapping []byte
}

// ParseHead parses an OpusHead.
func ParseHead(buf []byte) (*Head, error) {
	if len(buf) < headSize || !bytes.Equal(buf[:8], magic) {
		return nil, errors.New("not an OpusHead")
	}
	h := &Head{
		Version:         buf[8],
		Channels:        int(buf[9]),
		PreSkip:         int(binary.LittleEndian.Uint16(buf[10:])),
		InputSampleRate: int(binary.LittleEndian.Uint32(buf[12:])),
		OutputGain:      int16(binary.LittleEndian.Uint16(buf[16:])),
		MappingFamily:   buf[18],
	}
	// Version: the major version (upper nibble) must be 0.
	if h.Version>>4 != 0 {
		return nil, fmt.Errorf("unsupported OpusHead version %d", h.Version)
	}
	if h.Channels == 0 {
		return nil, errors.New("OpusHead with 0 channels")
	}
	if h.MappingFamily == 0 {
		if h.Channels > 2 {
			return nil, fmt.Errorf("OpusHead mapping family 0 with %d channels", h.Channels)
		}
		h.StreamCount, h.CoupledCount = 1, h.Channels-1
		return h, nil
	}
	if len(buf) < headSize+2+h.Channels {
		return nil, errors.New("OpusHead channel mapping table truncated")
	}
	h.StreamCount, h.CoupledCount = int(buf[19]), int(buf[20])
	if h.StreamCount == 0 || h.CoupledCount > h.StreamCount {
		return nil, fmt.Errorf("OpusHead with %d streams, %d coupled", h.StreamCount, h.CoupledCount)
	}
	h.ChannelMapping = buf[21 : 21+h.Channels : 21+h.Channels]
	return h, nil
}
