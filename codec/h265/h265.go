// Package h265 holds the H.265/HEVC bitstream knowledge Tributary needs:
// the HEVCDecoderConfigurationRecord, SPS size and frame rate, and keyframe
// (IRAP) detection. Length-prefixed and Annex-B framing are the same as
// H.264's: use codec/h264's SplitAVCC and SplitAnnexB.
//
// A thin layer over github.com/bluenviron/mediacommon/v2/pkg/codecs/h265.
//
// Specification: ITU-T Rec. H.265 (08/2021); ISO/IEC 14496-15, section 8.
package h265

import (
	mch265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// MaxAccessUnitSize bounds the bytes of one access unit; see
// mediacommon's h265.MaxAccessUnitSize.
const MaxAccessUnitSize = mch265.MaxAccessUnitSize

// NALUType is the nal_unit_type of a NAL unit (Table 7-1).
type NALUType = mch265.NALUType

// NAL unit types used by this package and its callers.
const (
	NALUTypeVPS = mch265.NALUType_VPS_NUT
	NALUTypeSPS = mch265.NALUType_SPS_NUT
	NALUTypePPS = mch265.NALUType_PPS_NUT
)

// Type returns the nal_unit_type of a NAL unit, 0 for an empty one.
func Type(nalu []byte) NALUType {
	if len(nalu) == 0 {
		return 0
	}
	return NALUType((nalu[0] >> 1) & 0x3f)
}

// IsIRAP reports whether a NAL unit type is an intra random access point
// picture: BLA, IDR or CRA (types 16 to 23, 22 and 23 being reserved IRAP
// types).
//
// Own code: mediacommon's IsRandomAccess knows IDR and CRA but not BLA,
// and panics on an empty NAL unit.
//
// Specification: ITU-T Rec. H.265, section 7.4.2.2, Table 7-1.
func IsIRAP(t NALUType) bool {
	return t >= 16 && t <= 23
}

// IsKeyframe reports whether the access unit holds an IRAP picture.
func IsKeyframe(au [][]byte) bool {
	for _, nalu := range au {
		if IsIRAP(Type(nalu)) {
			return true
		}
	}
	return false
}
