package h265

import (
	"fmt"

	mch265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// MaxDimension bounds a parsed width or height (level 6.2 allows 8192×4320).
const MaxDimension = 16384

// SPS is what Tributary needs to know from a sequence parameter set.
type SPS struct {
	ProfileIDC uint8
	LevelIDC   uint8
	// Width and Height are the displayed size, after the conformance
	// window.
	Width, Height int
	// FrameRate is from the VUI timing info; 0 when absent.
	FrameRate float64
	// MaxNumReorderPics is sps_max_num_reorder_pics of the highest
	// sub-layer: 0 means no reordering (no B-frames in output order).
	MaxNumReorderPics int
	// Raw is mediacommon's full parse.
	Raw mch265.SPS
}

// ParseSPS parses a sequence parameter set NAL unit (header included).
//
// Specification: ITU-T Rec. H.265, section 7.3.2.2 (parsed by mediacommon).
func ParseSPS(nalu []byte) (*SPS, error) {
	s := &SPS{}
	if err := s.Raw.Unmarshal(nalu); err != nil {
		return nil, fmt.Errorf("parse H.265 SPS: %w", err)
	}
	r := &s.Raw
	s.ProfileIDC = r.ProfileTierLevel.GeneralProfileIdc
	s.LevelIDC = r.ProfileTierLevel.GeneralLevelIdc
	// mediacommon computes the size in uint32 and indexes a table with
	// chroma_format_idc: check the inputs first.
	if r.ChromaFormatIdc > 3 || r.PicWidthInLumaSamples > MaxDimension || r.PicHeightInLumaSamples > MaxDimension {
		return nil, fmt.Errorf("H.265 SPS gives an invalid size %dx%d", r.PicWidthInLumaSamples, r.PicHeightInLumaSamples)
	}
	if w := r.ConformanceWindow; w != nil &&
		(w.LeftOffset > MaxDimension || w.RightOffset > MaxDimension || w.TopOffset > MaxDimension || w.BottomOffset > MaxDimension) {
		return nil, fmt.Errorf("H.265 SPS gives an invalid conformance window")
	}
	s.Width, s.Height = int(int32(r.Width())), int(int32(r.Height()))
	if s.Width <= 0 || s.Height <= 0 {
		return nil, fmt.Errorf("H.265 SPS gives an invalid size %dx%d", s.Width, s.Height)
	}
	if v := r.VUI; v != nil && v.TimingInfo != nil && v.TimingInfo.NumUnitsInTick != 0 && v.TimingInfo.TimeScale != 0 {
		s.FrameRate = r.FPS()
	}
	if n := len(r.MaxNumReorderPics); n > 0 {
		s.MaxNumReorderPics = int(min(r.MaxNumReorderPics[n-1], 16))
	}
	return s, nil
}
