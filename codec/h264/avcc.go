package h264

import (
	"errors"
	"fmt"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// ErrNoNALUs is returned when a length-prefixed buffer holds no NAL unit.
var ErrNoNALUs = errors.New("access unit contains no NAL unit")

// SplitAVCC splits a length-prefixed access unit ("AVCC" or "HVCC" sample
// format, also used by FLV and MP4) into NAL units. lengthSize is the size
// of each length prefix in bytes (1, 2 or 4: lengthSizeMinusOne+1 of the
// decoder configuration record). The NAL units alias buf; zero-length NAL
// units are skipped.
//
// Own code rather than mediacommon's AVCC.Unmarshal: that one only knows
// 4-byte prefixes and caps an AU at 25 NAL units, which multi-slice hardware
// encoders exceed. It counts first and allocates the result once.
//
// Specification: ISO/IEC 14496-15, section 5.3.2.
func SplitAVCC(buf []byte, lengthSize int) ([][]byte, error) {
	return AppendAVCC(nil, buf, lengthSize)
}

// AppendAVCC is SplitAVCC appending to dst: it does not allocate when dst
// has room for the NAL units, which lets a demuxer keep the slice headers
// inside its frame allocation.
func AppendAVCC(dst [][]byte, buf []byte, lengthSize int) ([][]byte, error) {
	if lengthSize != 1 && lengthSize != 2 && lengthSize != 4 {
		return nil, fmt.Errorf("invalid NAL unit length size %d", lengthSize)
	}
	if len(buf) > MaxAccessUnitSize {
		return nil, fmt.Errorf("access unit size (%d) is too big, maximum is %d", len(buf), MaxAccessUnitSize)
	}
	n := 0
	for pos := 0; pos < len(buf); {
		l, err := readLength(buf[pos:], lengthSize)
		if err != nil {
			return nil, err
		}
		pos += lengthSize + l
		if l != 0 {
			n++
		}
	}
	if n == 0 {
		return nil, ErrNoNALUs
	}
	if n > MaxNALUsPerAccessUnit {
		return nil, fmt.Errorf("NAL unit count (%d) exceeds maximum allowed (%d)", n, MaxNALUsPerAccessUnit)
	}
	au := dst
	if cap(au)-len(au) < n {
		au = make([][]byte, len(dst), len(dst)+n)
		copy(au, dst)
	}
	for pos := 0; pos < len(buf); {
		l, _ := readLength(buf[pos:], lengthSize)
		pos += lengthSize
		if l != 0 {
			au = append(au, buf[pos:pos+l:pos+l])
		}
		pos += l
	}
	return au, nil
}

func readLength(buf []byte, size int) (int, error) {
	if len(buf) < size {
		return 0, fmt.Errorf("truncated NAL unit length")
	}
	l := 0
	for i := range size {
		l = l<<8 | int(buf[i])
	}
	if len(buf)-size < l {
		return 0, fmt.Errorf("NAL unit length %d exceeds the %d bytes left", l, len(buf)-size)
	}
	return l, nil
}

// JoinAVCC returns au with 4-byte length prefixes in a new buffer.
func JoinAVCC(au [][]byte) ([]byte, error) {
	return mch264.AVCC(au).Marshal()
}
