// Package vp9 parses the VP codec configuration record ('vpcC'), the
// codec-private data of VP9 in MP4 and Enhanced RTMP, and the size and
// frame type of a VP9 frame (through
// github.com/bluenviron/mediacommon/v2/pkg/codecs/vp9).
//
// The record is our own code: mediacommon v2.5.0 has none.
//
// Specification: VP Codec ISO Media File Format Binding v1.0, section 2.3.
package vp9

import (
	"errors"
	"fmt"

	mcvp9 "github.com/bluenviron/mediacommon/v2/pkg/codecs/vp9"
)

// configSize is the size of a record without codec initialization data.
const configSize = 8

// Config is a VPCodecConfigurationRecord.
type Config struct {
	Profile           uint8
	Level             uint8
	BitDepth          uint8
	ChromaSubsampling uint8
	FullRange         bool
	ColourPrimaries   uint8
	TransferChars     uint8
	MatrixCoeffs      uint8
}

// ParseConfig parses a record. It accepts the record with or without the
// 4-byte FullBox version/flags that precede it inside a 'vpcC' box: FFmpeg
// writes the bare record into Enhanced RTMP, other muxers copy the box
// payload. The two are told apart because a bare record starts with the
// profile (0..3) and a level that is never 0, while the box payload
// starts 01 00 00 00.
func ParseConfig(buf []byte) (*Config, error) {
	if len(buf) >= configSize+4 && buf[0] == 1 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0 {
		buf = buf[4:]
	}
	if len(buf) < configSize {
		return nil, errors.New("VPCodecConfigurationRecord truncated")
	}
	c := &Config{
		Profile:           buf[0],
		Level:             buf[1],
		BitDepth:          buf[2] >> 4,
		ChromaSubsampling: (buf[2] >> 1) & 0x07,
		FullRange:         buf[2]&0x01 != 0,
		ColourPrimaries:   buf[3],
		TransferChars:     buf[4],
		MatrixCoeffs:      buf[5],
	}
	if c.Profile > 3 {
		return nil, fmt.Errorf("invalid VP9 profile %d", c.Profile)
	}
	return c, nil
}

// FrameInfo is what a VP9 frame header says about the frame.
type FrameInfo struct {
	// Key is true for a keyframe.
	Key bool
	// Width and Height are set for keyframes, 0 otherwise.
	Width, Height int
}

// ParseFrame parses the uncompressed header of a VP9 frame.
func ParseFrame(frame []byte) (FrameInfo, error) {
	var h mcvp9.Header
	if err := h.Unmarshal(frame); err != nil {
		return FrameInfo{}, fmt.Errorf("parse VP9 frame header: %w", err)
	}
	return FrameInfo{Key: !h.ShowExistingFrame && !h.NonKeyFrame, Width: h.Width(), Height: h.Height()}, nil
}
