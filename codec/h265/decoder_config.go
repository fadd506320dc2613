package h265

import (
	"errors"
	"fmt"
)

// ErrConfigTruncated is returned when a decoder configuration record ends
// before its declared content.
var ErrConfigTruncated = errors.New("decoder configuration record truncated")

// maxParameterSets bounds the NAL units listed in a record (the count is
// 16-bit per array); real records hold one VPS, SPS and PPS, a few SEI.
const maxParameterSets = 64

// decoderConfigHeaderSize is the fixed part of the record, up to and
// including numOfArrays.
const decoderConfigHeaderSize = 23

// DecoderConfig is an HEVCDecoderConfigurationRecord: the codec-private
// data of H.265 in Enhanced RTMP / FLV and MP4 ('hvcC').
//
// Own code: mediacommon v2.5.0 has no type for this record.
//
// Specification: ISO/IEC 14496-15, section 8.3.3.1.
type DecoderConfig struct {
	GeneralProfileSpace uint8
	GeneralTierFlag     bool
	GeneralProfileIDC   uint8
	GeneralLevelIDC     uint8
	ChromaFormat        uint8
	BitDepthLuma        uint8
	// LengthSize is the size in bytes of the NAL unit length prefixes of
	// the samples: 1, 2 or 4.
	LengthSize int
	// VPS, SPS and PPS hold the parameter sets, NAL header included,
	// aliasing the buffer given to Unmarshal. Other arrays (SEI) are
	// skipped.
	VPS, SPS, PPS [][]byte
}

// Unmarshal decodes a record.
func (c *DecoderConfig) Unmarshal(buf []byte) error {
	*c = DecoderConfig{}
	if len(buf) < decoderConfigHeaderSize {
		return ErrConfigTruncated
	}
	if buf[0] != 1 {
		return fmt.Errorf("unsupported HEVCDecoderConfigurationRecord version %d", buf[0])
	}
	c.GeneralProfileSpace = buf[1] >> 6
	c.GeneralTierFlag = buf[1]&0x20 != 0
	c.GeneralProfileIDC = buf[1] & 0x1f
	c.GeneralLevelIDC = buf[12]
	c.ChromaFormat = buf[16] & 0x03
	c.BitDepthLuma = buf[17]&0x07 + 8
	c.LengthSize = int(buf[21]&0x03) + 1
	if c.LengthSize == 3 {
		return errors.New("invalid NAL unit length size 3")
	}
	numArrays := int(buf[22])
	pos := decoderConfigHeaderSize
	total := 0
	for range numArrays {
		if len(buf)-pos < 3 {
			return ErrConfigTruncated
		}
		typ := NALUType(buf[pos] & 0x3f)
		n := int(buf[pos+1])<<8 | int(buf[pos+2])
		pos += 3
		total += n
		if total > maxParameterSets {
			return fmt.Errorf("too many parameter sets (%d)", total)
		}
		for range n {
			if len(buf)-pos < 2 {
				return ErrConfigTruncated
			}
			l := int(buf[pos])<<8 | int(buf[pos+1])
			pos += 2
			if len(buf)-pos < l {
				return ErrConfigTruncated
			}
			nalu := buf[pos : pos+l : pos+l]
			pos += l
			if l < 2 {
				return fmt.Errorf("NAL unit of %d bytes in record", l)
			}
			switch typ {
			case NALUTypeVPS:
				c.VPS = append(c.VPS, nalu)
			case NALUTypeSPS:
				c.SPS = append(c.SPS, nalu)
			case NALUTypePPS:
				c.PPS = append(c.PPS, nalu)
			}
		}
	}
	if len(c.SPS) == 0 {
		return errors.New("HEVCDecoderConfigurationRecord has no SPS")
	}
	return nil
}
