package h264

import (
	"errors"

	"github.com/bluenviron/mediacommon/v2/pkg/bits"
)

// SliceType is slice_type modulo 5 (Table 7-6).
type SliceType uint8

// Slice types.
const (
	SliceP  SliceType = 0
	SliceB  SliceType = 1
	SliceI  SliceType = 2
	SliceSP SliceType = 3
	SliceSI SliceType = 4
)

func (t SliceType) String() string {
	switch t {
	case SliceP:
		return "P"
	case SliceB:
		return "B"
	case SliceI:
		return "I"
	case SliceSP:
		return "SP"
	case SliceSI:
		return "SI"
	}
	return "?"
}

// sliceHeaderPeek is how many escaped bytes ParseSliceType looks at:
// first_mb_in_slice (≤ 2×log2(139264)+1 bits) and slice_type (≤ 9 bits)
// fit in 8 bytes; the margin covers emulation prevention bytes.
const sliceHeaderPeek = 16

// ParseSliceType returns the slice_type of a coded slice NAL unit (types 1,
// 2 and 5), without allocating.
//
// Own code: mediacommon parses slice headers only inside its unexported
// DTS extractor.
//
// Specification: ITU-T Rec. H.264, section 7.3.3.
func ParseSliceType(nalu []byte) (SliceType, error) {
	switch Type(nalu) {
	case NALUTypeNonIDR, NALUTypeIDR, 2:
	default:
		return 0, errors.New("not a coded slice")
	}
	// Remove emulation prevention bytes from the first bytes only, on the
	// stack.
	var tmp [sliceHeaderPeek]byte
	n := 0
	zeros := 0
	for _, b := range nalu[1:] {
		if n == len(tmp) {
			break
		}
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
		tmp[n] = b
		n++
	}
	buf := tmp[:n]
	pos := 0
	if _, err := bits.ReadGolombUnsigned(buf, &pos); err != nil { // first_mb_in_slice
		return 0, err
	}
	st, err := bits.ReadGolombUnsigned(buf, &pos)
	if err != nil {
		return 0, err
	}
	if st > 9 {
		return 0, errors.New("invalid slice_type")
	}
	return SliceType(st % 5), nil
}
