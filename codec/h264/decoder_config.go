package h264

import (
	"errors"
	"fmt"
)

// ErrConfigTruncated is returned when a decoder configuration record ends
// before its declared content.
var ErrConfigTruncated = errors.New("decoder configuration record truncated")

// DecoderConfig is an AVCDecoderConfigurationRecord: the codec-private data
// of H.264 in FLV (the AVC sequence header) and MP4 ('avcC').
//
// Own code: mediacommon v2.5.0 has no AVCDecoderConfigurationRecord type.
//
// Specification: ISO/IEC 14496-15, section 5.3.3.1.
type DecoderConfig struct {
	ProfileIndication    uint8
	ProfileCompatibility uint8
	LevelIndication      uint8
	// LengthSize is the size in bytes of the NAL unit length prefixes of
	// the samples (lengthSizeMinusOne+1): 1, 2 or 4.
	LengthSize int
	// SPS and PPS are the parameter sets, NAL header byte included. They
	// alias the buffer given to Unmarshal.
	SPS [][]byte
	PPS [][]byte
}

// Unmarshal decodes a record. Trailing bytes (the High-profile chroma
// extension, or garbage some encoders append) are ignored.
func (c *DecoderConfig) Unmarshal(buf []byte) error {
	if len(buf) < 6 {
		return ErrConfigTruncated
	}
	if buf[0] != 1 {
		return fmt.Errorf("unsupported AVCDecoderConfigurationRecord version %d", buf[0])
	}
	c.ProfileIndication = buf[1]
	c.ProfileCompatibility = buf[2]
	c.LevelIndication = buf[3]
	c.LengthSize = int(buf[4]&0x03) + 1
	if c.LengthSize == 3 {
		return fmt.Errorf("invalid NAL unit length size 3")
	}
	pos := 5
	var err error
	c.SPS, pos, err = readParameterSets(buf, pos, int(buf[5]&0x1f), 1)
	if err != nil {
		return fmt.Errorf("SPS: %w", err)
	}
	if pos >= len(buf) {
		return ErrConfigTruncated
	}
	c.PPS, _, err = readParameterSets(buf, pos, int(buf[pos]), 1)
	if err != nil {
		return fmt.Errorf("PPS: %w", err)
	}
	if len(c.SPS) == 0 {
		return errors.New("AVCDecoderConfigurationRecord has no SPS")
	}
	if len(c.PPS) == 0 {
		return errors.New("AVCDecoderConfigurationRecord has no PPS")
	}
	return nil
}

// readParameterSets reads count entries of (16-bit length, bytes) after
// the count byte at buf[pos]. headerLen is the parameter sets' minimum size
// (their NAL header); shorter entries are an error.
func readParameterSets(buf []byte, pos, count, headerLen int) ([][]byte, int, error) {
	pos++ // the count byte
	if count == 0 {
		return nil, pos, nil
	}
	out := make([][]byte, 0, count)
	for range count {
		if len(buf)-pos < 2 {
			return nil, 0, ErrConfigTruncated
		}
		l := int(buf[pos])<<8 | int(buf[pos+1])
		pos += 2
		if len(buf)-pos < l {
			return nil, 0, ErrConfigTruncated
		}
		if l < headerLen {
			return nil, 0, fmt.Errorf("parameter set of %d bytes", l)
		}
		out = append(out, buf[pos:pos+l:pos+l])
		pos += l
	}
	return out, pos, nil
}

// Marshal encodes the record (without the High-profile extension).
func (c DecoderConfig) Marshal() ([]byte, error) {
	if len(c.SPS) > 31 || len(c.PPS) > 255 {
		return nil, errors.New("too many parameter sets")
	}
	if c.LengthSize != 1 && c.LengthSize != 2 && c.LengthSize != 4 {
		return nil, fmt.Errorf("invalid NAL unit length size %d", c.LengthSize)
	}
	n := 7
	for _, ps := range append(append([][]byte(nil), c.SPS...), c.PPS...) {
		if len(ps) > 0xffff {
			return nil, errors.New("parameter set too big")
		}
		n += 2 + len(ps)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, 1, c.ProfileIndication, c.ProfileCompatibility, c.LevelIndication,
		0xfc|byte(c.LengthSize-1), 0xe0|byte(len(c.SPS)))
	for _, ps := range c.SPS {
		buf = append(buf, byte(len(ps)>>8), byte(len(ps)))
		buf = append(buf, ps...)
	}
	buf = append(buf, byte(len(c.PPS)))
	for _, ps := range c.PPS {
		buf = append(buf, byte(len(ps)>>8), byte(len(ps)))
		buf = append(buf, ps...)
	}
	return buf, nil
}
