package h264

import (
	"fmt"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// MaxDimension bounds a parsed width or height. Level 6.2 allows 8192×4320;
// anything beyond 16384 is a corrupt or hostile SPS.
const MaxDimension = 16384

// Profiles (profile_idc, Annex A).
const (
	ProfileBaseline = 66
	ProfileMain     = 77
	ProfileExtended = 88
	ProfileHigh     = 100
	ProfileHigh10   = 110
	ProfileHigh422  = 122
	ProfileHigh444  = 244
)

// SPS is what Tributary needs to know from a sequence parameter set.
type SPS struct {
	ProfileIDC uint8
	// ConstraintFlags is the byte holding constraint_set0_flag (bit 7) to
	// constraint_set5_flag (bit 2), as in the SPS and in RFC 6184
	// profile-level-id.
	ConstraintFlags uint8
	LevelIDC        uint8
	// Width and Height are the displayed size, after frame cropping.
	Width, Height int
	// FrameRate is from the VUI timing info (time_scale / (2 ×
	// num_units_in_tick)); 0 when absent.
	FrameRate float64
	// MaxNumReorderFrames is from the VUI bitstream restriction; -1 when
	// absent.
	MaxNumReorderFrames int
	// MaxDecFrameBuffering is from the VUI bitstream restriction; -1 when
	// absent.
	MaxDecFrameBuffering int
	// Raw is mediacommon's full parse.
	Raw mch264.SPS
}

// ParseSPS parses a sequence parameter set NAL unit (header byte included,
// emulation prevention bytes still in).
//
// Specification: ITU-T Rec. H.264, section 7.3.2.1.1 (parsed by
// mediacommon); cropping in 7.4.2.1.1.
func ParseSPS(nalu []byte) (*SPS, error) {
	s := &SPS{MaxNumReorderFrames: -1, MaxDecFrameBuffering: -1}
	if err := s.Raw.Unmarshal(nalu); err != nil {
		return nil, fmt.Errorf("parse H.264 SPS: %w", err)
	}
	r := &s.Raw
	s.ProfileIDC = r.ProfileIdc
	for i, f := range []bool{
		r.ConstraintSet0Flag, r.ConstraintSet1Flag, r.ConstraintSet2Flag,
		r.ConstraintSet3Flag, r.ConstraintSet4Flag, r.ConstraintSet5Flag,
	} {
		if f {
			s.ConstraintFlags |= 0x80 >> i
		}
	}
	s.LevelIDC = r.LevelIdc

	// mediacommon computes the size in uint32; a hostile SPS makes it wrap
	// or overflow, so check the inputs before trusting the result.
	if r.PicWidthInMbsMinus1 >= MaxDimension/16 || r.PicHeightInMapUnitsMinus1 >= MaxDimension/16 {
		return nil, fmt.Errorf("H.264 SPS gives an invalid size (%d×%d macroblocks)",
			uint64(r.PicWidthInMbsMinus1)+1, uint64(r.PicHeightInMapUnitsMinus1)+1)
	}
	if c := r.FrameCropping; c != nil &&
		(c.LeftOffset > MaxDimension || c.RightOffset > MaxDimension ||
			c.TopOffset > MaxDimension || c.BottomOffset > MaxDimension) {
		return nil, fmt.Errorf("H.264 SPS gives invalid cropping")
	}
	s.Width, s.Height = int(int32(r.Width())), int(int32(r.Height()))
	if s.Width <= 0 || s.Height <= 0 || s.Width > MaxDimension || s.Height > MaxDimension {
		return nil, fmt.Errorf("H.264 SPS gives an invalid size %dx%d", s.Width, s.Height)
	}
	if v := r.VUI; v != nil {
		if t := v.TimingInfo; t != nil && t.NumUnitsInTick != 0 && t.TimeScale != 0 {
			s.FrameRate = r.FPS()
		}
		if b := v.BitstreamRestriction; b != nil {
			s.MaxNumReorderFrames = int(min(b.MaxNumReorderFrames, 16))
			s.MaxDecFrameBuffering = int(min(b.MaxDecFrameBuffering, 16))
		}
	}
	return s, nil
}

// ProfileName is the profile's name as in Annex A ("Constrained
// Baseline", "High", …).
func (s *SPS) ProfileName() string {
	cs1 := s.ConstraintFlags&0x40 != 0
	cs3 := s.ConstraintFlags&0x10 != 0
	switch s.ProfileIDC {
	case ProfileBaseline:
		if cs1 {
			return "Constrained Baseline"
		}
		return "Baseline"
	case ProfileMain:
		return "Main"
	case ProfileExtended:
		return "Extended"
	case ProfileHigh:
		return "High"
	case ProfileHigh10:
		if cs3 {
			return "High 10 Intra"
		}
		return "High 10"
	case ProfileHigh422:
		if cs3 {
			return "High 4:2:2 Intra"
		}
		return "High 4:2:2"
	case ProfileHigh444:
		if cs3 {
			return "High 4:4:4 Intra"
		}
		return "High 4:4:4 Predictive"
	case 44:
		return "CAVLC 4:4:4 Intra"
	}
	return fmt.Sprintf("profile %d", s.ProfileIDC)
}

// Level is the level as a string, "3.1", "1b", ….
func (s *SPS) Level() string {
	if s.LevelIDC == 11 && s.ConstraintFlags&0x10 != 0 &&
		(s.ProfileIDC == ProfileBaseline || s.ProfileIDC == ProfileMain || s.ProfileIDC == ProfileExtended) {
		return "1b"
	}
	if s.LevelIDC == 9 {
		return "1b"
	}
	return fmt.Sprintf("%d.%d", s.LevelIDC/10, s.LevelIDC%10)
}

// MayHaveBFrames reports whether the stream may reorder frames (PTS ≠
// DTS), which is what B-frames mean for forwarding: WebRTC receivers
// decode in arrival order. It is false when the profile forbids B slices
// (Baseline, Constrained Baseline, the Intra profiles) or when the VUI
// bitstream restriction promises no reordering; true otherwise, including
// when the SPS does not say. Confirm at runtime with BFrameDetector.
//
// Specification: Annex A.2.1 (Baseline has no B slices), A.2.8–A.2.11
// (Intra profiles), E.2.1 (max_num_reorder_frames).
func (s *SPS) MayHaveBFrames() bool {
	switch s.ProfileIDC {
	case ProfileBaseline, 44:
		return false
	case ProfileHigh10, ProfileHigh422, ProfileHigh444:
		if s.ConstraintFlags&0x10 != 0 {
			return false
		}
	}
	if s.MaxNumReorderFrames == 0 || s.MaxDecFrameBuffering == 0 {
		return false
	}
	return true
}
