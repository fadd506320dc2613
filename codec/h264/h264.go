// Package h264 holds the H.264 bitstream knowledge Tributary needs: NAL unit
// framing (Annex-B and AVCC), the AVCDecoderConfigurationRecord, SPS facts
// (profile, level, size, frame rate, reordering) and keyframe and B-frame
// detection.
//
// It is a thin layer over github.com/bluenviron/mediacommon/v2/pkg/codecs/h264;
// code of our own exists only where mediacommon has nothing, and says so.
//
// Specification: ITU-T Rec. H.264 (08/2021); ISO/IEC 14496-15.
package h264

import (
	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

const (
	// MaxAccessUnitSize bounds the bytes of one access unit (sum of its NAL
	// units). With a 50 Mbps 2160p60 stream an AU stays below 8 MiB
	// (mediacommon's measurement).
	MaxAccessUnitSize = mch264.MaxAccessUnitSize

	// MaxNALUsPerAccessUnit bounds the NAL units of one access unit.
	// x264 with tune=zerolatency at 4K stays below 25; multi-slice hardware
	// encoders stay well below 128.
	MaxNALUsPerAccessUnit = 128
)

// NALUType is the nal_unit_type of a NAL unit (Table 7-1).
type NALUType = mch264.NALUType

// NAL unit types used by this package and its callers.
const (
	NALUTypeNonIDR = mch264.NALUTypeNonIDR
	NALUTypeIDR    = mch264.NALUTypeIDR
	NALUTypeSEI    = mch264.NALUTypeSEI
	NALUTypeSPS    = mch264.NALUTypeSPS
	NALUTypePPS    = mch264.NALUTypePPS
	NALUTypeAUD    = mch264.NALUTypeAccessUnitDelimiter
)

// Type returns the nal_unit_type of a NAL unit, 0 for an empty one.
func Type(nalu []byte) NALUType {
	if len(nalu) == 0 {
		return 0
	}
	return NALUType(nalu[0] & 0x1f)
}

// IsKeyframe reports whether the access unit contains an IDR slice, i.e. is
// a random-access point a decoder can start from.
//
// mediacommon's IsRandomAccess indexes nalu[0] and would panic on an empty
// NAL unit; this wrapper skips those.
func IsKeyframe(au [][]byte) bool {
	for _, nalu := range au {
		if Type(nalu) == NALUTypeIDR {
			return true
		}
	}
	return false
}
