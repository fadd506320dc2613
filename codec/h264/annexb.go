package h264

import (
	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// SplitAnnexB splits an Annex-B byte stream (start-code delimited) into NAL
// units. The NAL units alias buf.
//
// Specification: ITU-T Rec. H.264, Annex B.
func SplitAnnexB(buf []byte) ([][]byte, error) {
	var au mch264.AnnexB
	if err := au.Unmarshal(buf); err != nil {
		return nil, err
	}
	return au, nil
}

// AnnexBSize returns the size of au in Annex-B form with 4-byte start codes.
func AnnexBSize(au [][]byte) int {
	n := 0
	for _, nalu := range au {
		n += 4 + len(nalu)
	}
	return n
}

// AppendAnnexB appends au to dst in Annex-B form with 4-byte start codes
// and returns the extended slice. It does not allocate when dst has room
// for AnnexBSize(au) more bytes.
func AppendAnnexB(dst []byte, au [][]byte) []byte {
	for _, nalu := range au {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, nalu...)
	}
	return dst
}

// JoinAnnexB returns au in Annex-B form in a new buffer.
func JoinAnnexB(au [][]byte) []byte {
	return AppendAnnexB(make([]byte, 0, AnnexBSize(au)), au)
}
