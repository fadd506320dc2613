package h265

import (
	"errors"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// ptlGeneralSize is the size of the general part of profile_tier_level():
// profile space, tier, profile, 32 compatibility flags, 48 constraint
// flags and level.
const ptlGeneralSize = 12

// MarshalDecoderConfig builds an HEVCDecoderConfigurationRecord (with
// 4-byte NAL unit lengths) from in-band or out-of-band parameter sets, so
// that consumers get for H.265 in TS or RTSP what they get from MP4 and
// Enhanced RTMP. info is the parsed sps.
//
// Specification: ISO/IEC 14496-15, section 8.3.3.1.
func MarshalDecoderConfig(info *SPS, vps, sps, pps []byte) ([]byte, error) {
	// The general profile_tier_level follows the 2-byte NAL header and the
	// byte with sps_video_parameter_set_id, sps_max_sub_layers_minus1 and
	// sps_temporal_id_nesting_flag; it may contain emulation prevention.
	raw := mch264.EmulationPreventionRemove(sps)
	if len(raw) < 3+ptlGeneralSize {
		return nil, errors.New("H.265 SPS too short")
	}
	ptl := raw[3 : 3+ptlGeneralSize]
	r := info.Raw
	b := make([]byte, 0, 23+3*5+len(vps)+len(sps)+len(pps))
	b = append(b, 1)           // configurationVersion
	b = append(b, ptl[:12]...) // general_profile_space … general_level_idc
	b = append(b, 0xf0, 0x00,  // min_spatial_segmentation_idc = 0
		0xfc,                                // parallelismType = 0
		0xfc|byte(r.ChromaFormatIdc&3),      // chromaFormat
		0xf8|byte(r.BitDepthLumaMinus8&7),   // bitDepthLumaMinus8
		0xf8|byte(r.BitDepthChromaMinus8&7), // bitDepthChromaMinus8
		0, 0)                                // avgFrameRate
	nesting := byte(0)
	if r.TemporalIDNestingFlag {
		nesting = 1
	}
	// constantFrameRate 0, numTemporalLayers, temporalIdNested,
	// lengthSizeMinusOne 3.
	b = append(b, (r.MaxSubLayersMinus1+1)&7<<3|nesting<<2|3)
	b = append(b, 3) // numOfArrays
	for _, a := range []struct {
		typ  NALUType
		nalu []byte
	}{{NALUTypeVPS, vps}, {NALUTypeSPS, sps}, {NALUTypePPS, pps}} {
		if len(a.nalu) > 0xffff {
			return nil, errors.New("H.265 parameter set too large")
		}
		b = append(b, 0x80|byte(a.typ)&0x3f, 0, 1, byte(len(a.nalu)>>8), byte(len(a.nalu)))
		b = append(b, a.nalu...)
	}
	return b, nil
}
