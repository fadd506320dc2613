// Package paramsets follows the parameter sets (VPS, SPS, PPS) that H.264
// and H.265 streams carry in band, and turns them into a track's size and
// decoder configuration record: for the inputs whose container has no
// configuration of its own (MPEG-TS, RTP). One place, so that the inputs
// agree on what a complete set is and on the record they announce.
package paramsets

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/media"
)

// Sets are one stream's parameter sets (VPS only for H.265).
type Sets struct {
	VPS, SPS, PPS []byte
}

// Scan returns s with the parameter sets found in the access unit au in
// place of its own (aliasing au), and whether au is a random-access unit
// (an IDR picture, or an H.265 IRAP picture). codec is H.264 or H.265.
func Scan(codec media.CodecID, au [][]byte, s Sets) (Sets, bool) {
	key := false
	for _, n := range au {
		if codec == media.CodecH264 {
			switch h264.Type(n) {
			case h264.NALUTypeSPS:
				s.SPS = n
			case h264.NALUTypePPS:
				s.PPS = n
			case h264.NALUTypeIDR:
				key = true
			}
			continue
		}
		switch typ := h265.Type(n); {
		case typ == h265.NALUTypeVPS:
			s.VPS = n
		case typ == h265.NALUTypeSPS:
			s.SPS = n
		case typ == h265.NALUTypePPS:
			s.PPS = n
		case h265.IsIRAP(typ):
			key = true
		}
	}
	return s, key
}

// Complete reports whether s has every set the codec needs.
func (s Sets) Complete(codec media.CodecID) bool {
	return s.SPS != nil && s.PPS != nil && (codec != media.CodecH265 || s.VPS != nil)
}

// Equal reports whether s and o hold the same bytes.
func (s Sets) Equal(o Sets) bool {
	return bytes.Equal(s.VPS, o.VPS) && bytes.Equal(s.SPS, o.SPS) && bytes.Equal(s.PPS, o.PPS)
}

// With returns s with each set of found that differs from its own in its
// place, copied out of the buffer it aliases; the sets found does not
// have are kept.
func (s Sets) With(found Sets) Sets {
	with := func(cur, f []byte) []byte {
		if f == nil || bytes.Equal(cur, f) {
			return cur
		}
		return bytes.Clone(f)
	}
	return Sets{VPS: with(s.VPS, found.VPS), SPS: with(s.SPS, found.SPS), PPS: with(s.PPS, found.PPS)}
}

// Clone copies the sets out of the buffers they alias.
func (s Sets) Clone() Sets {
	return Sets{VPS: bytes.Clone(s.VPS), SPS: bytes.Clone(s.SPS), PPS: bytes.Clone(s.PPS)}
}

// List is the sets in the order a decoder wants them in front of a
// random-access unit.
func (s Sets) List(codec media.CodecID) [][]byte {
	if codec == media.CodecH265 {
		return [][]byte{s.VPS, s.SPS, s.PPS}
	}
	return [][]byte{s.SPS, s.PPS}
}

// Config parses the SPS of complete sets and builds the track's decoder
// configuration record (avcC or hvcC, 4-byte NAL unit lengths).
func Config(codec media.CodecID, s Sets) (width, height int, config []byte, err error) {
	if codec == media.CodecH264 {
		info, err := h264.ParseSPS(s.SPS)
		if err == nil && len(s.SPS) < 4 {
			err = errors.New("too short")
		}
		if err != nil {
			return 0, 0, nil, fmt.Errorf("H.264 SPS: %w", err)
		}
		cfg := h264.DecoderConfig{
			ProfileIndication: s.SPS[1], ProfileCompatibility: s.SPS[2], LevelIndication: s.SPS[3],
			LengthSize: 4, SPS: [][]byte{s.SPS}, PPS: [][]byte{s.PPS},
		}
		if config, err = cfg.Marshal(); err != nil {
			return 0, 0, nil, fmt.Errorf("H.264 decoder configuration: %w", err)
		}
		return info.Width, info.Height, config, nil
	}
	info, err := h265.ParseSPS(s.SPS)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("H.265 SPS: %w", err)
	}
	if config, err = h265.MarshalDecoderConfig(info, s.VPS, s.SPS, s.PPS); err != nil {
		return 0, 0, nil, fmt.Errorf("H.265 decoder configuration: %w", err)
	}
	return info.Width, info.Height, config, nil
}
