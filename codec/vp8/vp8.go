// Package vp8 reads what Tributary needs from a VP8 bitstream: whether a
// frame is a keyframe, and the size a keyframe codes.
//
// Specification: RFC 6386, section 9.1 (uncompressed data chunk).
package vp8

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxDimension bounds a width or height: VP8 codes 14 bits.
const MaxDimension = 1<<14 - 1

// keyframeHeaderSize is the frame tag (3 bytes), the start code (3) and
// the two 16-bit size fields.
const keyframeHeaderSize = 10

// ErrNotKeyframe is returned by ParseKeyframeSize for interframes, which
// carry no size.
var ErrNotKeyframe = errors.New("not a VP8 keyframe")

// IsKeyframe reports whether a frame (or the first bytes of one) starts a
// keyframe: bit 0 of the frame tag is 0.
func IsKeyframe(frame []byte) bool {
	return len(frame) > 0 && frame[0]&0x01 == 0
}

// ParseKeyframeSize returns the width and height coded in a keyframe's
// header: after the 3-byte frame tag, the start code 9d 01 2a, then 16-bit
// little-endian width and height whose upper 2 bits are the scaling mode.
func ParseKeyframeSize(frame []byte) (width, height int, err error) {
	if !IsKeyframe(frame) {
		if len(frame) == 0 {
			return 0, 0, errors.New("empty VP8 frame")
		}
		return 0, 0, ErrNotKeyframe
	}
	if len(frame) < keyframeHeaderSize {
		return 0, 0, fmt.Errorf("VP8 keyframe header too short: %d bytes", len(frame))
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, fmt.Errorf("VP8 keyframe start code missing: % x", frame[3:6])
	}
	width = int(binary.LittleEndian.Uint16(frame[6:8]) & MaxDimension)
	height = int(binary.LittleEndian.Uint16(frame[8:10]) & MaxDimension)
	if width == 0 || height == 0 {
		return 0, 0, fmt.Errorf("VP8 keyframe codes an invalid size %dx%d", width, height)
	}
	return width, height, nil
}
