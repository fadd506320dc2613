package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// maxVideoDimension bounds a parsed width or height. H.264 level 6.2 and
// VP8's 14-bit fields both stay below it; anything larger is a parse error.
const maxVideoDimension = 16384

// errNotVP8Keyframe is returned by parseVP8KeyframeSize for interframes,
// which carry no dimensions.
var errNotVP8Keyframe = errors.New("not a VP8 keyframe")

// parseH264SPSSize returns the display size coded in an H.264 sequence
// parameter set (a NAL unit including its header byte, without start code),
// after frame cropping.
//
// Specification: ITU-T Rec. H.264, section 7.3.2.1.1 (parsed by mediacommon).
func parseH264SPSSize(nalu []byte) (width, height int, err error) {
	var sps h264.SPS
	if err = sps.Unmarshal(nalu); err != nil {
		return 0, 0, fmt.Errorf("parse H.264 SPS: %w", err)
	}
	width, height = sps.Width(), sps.Height()
	if width <= 0 || height <= 0 || width > maxVideoDimension || height > maxVideoDimension {
		return 0, 0, fmt.Errorf("H.264 SPS gives an invalid size %dx%d", width, height)
	}
	return width, height, nil
}

// parseVP8KeyframeSize returns the frame size coded in the header of a VP8
// frame (the RTP payload after the VP8 payload descriptor, first packet of
// partition 0). It returns errNotVP8Keyframe for interframes.
//
// Specification: RFC 6386, section 9.1: a 3-byte frame tag whose bit 0 is 0
// for keyframes, then the start code 9d 01 2a, then 16-bit little-endian
// width and height whose upper 2 bits are the scaling mode.
func parseVP8KeyframeSize(frame []byte) (width, height int, err error) {
	if len(frame) < 1 {
		return 0, 0, errors.New("empty VP8 frame")
	}
	if frame[0]&0x01 != 0 {
		return 0, 0, errNotVP8Keyframe
	}
	if len(frame) < 10 {
		return 0, 0, fmt.Errorf("VP8 keyframe header too short: %d bytes", len(frame))
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, fmt.Errorf("VP8 keyframe start code missing: % x", frame[3:6])
	}
	width = int(binary.LittleEndian.Uint16(frame[6:8]) & 0x3fff)
	height = int(binary.LittleEndian.Uint16(frame[8:10]) & 0x3fff)
	if width == 0 || height == 0 {
		return 0, 0, fmt.Errorf("VP8 keyframe gives an invalid size %dx%d", width, height)
	}
	return width, height, nil
}
