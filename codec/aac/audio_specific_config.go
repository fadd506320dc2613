package aac

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Config is what Tributary needs to know from an AudioSpecificConfig.
type Config struct {
	// ObjectType is the audio object type: 2 for AAC-LC, 5 for HE-AAC, 29
	// for HE-AACv2 (explicitly signalled SBR/PS).
	ObjectType int
	// SampleRate is the output sample rate: the SBR extension rate for
	// explicitly signalled HE-AAC, the core rate otherwise.
	SampleRate int
	// CoreSampleRate is the sample rate of the AAC core.
	CoreSampleRate int
	// Channels is 0 when the channel layout is in a program config element.
	Channels int
}

// ParseConfig parses an AudioSpecificConfig (the AAC sequence header of
// FLV, 'esds' DecoderSpecificInfo of MP4).
//
// mediacommon parses AAC-LC, HE-AAC and HE-AACv2 fully; for other object
// types (Main, LTP, …) and PCE channel layouts, which it refuses, we read
// the leading fields ourselves, which is all Tributary needs to hand the
// config to a decoder.
//
// Specification: ISO/IEC 14496-3, section 1.6.2.1.
func ParseConfig(asc []byte) (*Config, error) {
	var mc mpeg4audio.AudioSpecificConfig
	if err := mc.Unmarshal(asc); err == nil {
		c := &Config{
			ObjectType:     int(mc.Type),
			SampleRate:     mc.SampleRate,
			CoreSampleRate: mc.SampleRate,
			Channels:       mc.ChannelCount,
		}
		if mc.ExtensionType != 0 { // mediacommon keeps the core type in Type
			c.ObjectType = int(mc.ExtensionType)
		}
		if mc.ExtensionSampleRate != 0 {
			c.SampleRate = mc.ExtensionSampleRate
		}
		// mediacommon takes an escaped 24-bit rate at face value.
		if c.CoreSampleRate <= 0 || c.CoreSampleRate > maxExplicitSampleRate ||
			c.SampleRate <= 0 || c.SampleRate > maxExplicitSampleRate {
			return nil, fmt.Errorf("parse AudioSpecificConfig: invalid sample rate %d", c.SampleRate)
		}
		return c, nil
	}
	return parseConfigHeader(asc)
}

func parseConfigHeader(asc []byte) (*Config, error) {
	pos := 0
	ot, err := bits.ReadBits(asc, &pos, 5)
	if err != nil {
		return nil, fmt.Errorf("parse AudioSpecificConfig: %w", err)
	}
	if ot == 31 {
		ext, err := bits.ReadBits(asc, &pos, 6)
		if err != nil {
			return nil, fmt.Errorf("parse AudioSpecificConfig: %w", err)
		}
		ot = 32 + ext
	}
	if ot == 0 {
		return nil, errors.New("parse AudioSpecificConfig: object type 0")
	}
	rate, err := readSampleRate(asc, &pos)
	if err != nil {
		return nil, err
	}
	cc, err := bits.ReadBits(asc, &pos, 4)
	if err != nil {
		return nil, fmt.Errorf("parse AudioSpecificConfig: %w", err)
	}
	if cc >= uint64(len(channelCounts)) {
		return nil, fmt.Errorf("parse AudioSpecificConfig: reserved channel configuration %d", cc)
	}
	return &Config{ObjectType: int(ot), SampleRate: rate, CoreSampleRate: rate, Channels: channelCounts[cc]}, nil
}

// maxExplicitSampleRate bounds an escaped 24-bit sampling frequency.
const maxExplicitSampleRate = 192000

func readSampleRate(buf []byte, pos *int) (int, error) {
	idx, err := bits.ReadBits(buf, pos, 4)
	if err != nil {
		return 0, fmt.Errorf("parse AudioSpecificConfig: %w", err)
	}
	switch {
	case idx < uint64(len(sampleRates)):
		return sampleRates[idx], nil
	case idx == 15:
		r, err := bits.ReadBits(buf, pos, 24)
		if err != nil {
			return 0, fmt.Errorf("parse AudioSpecificConfig: %w", err)
		}
		if r == 0 || r > maxExplicitSampleRate {
			return 0, fmt.Errorf("parse AudioSpecificConfig: invalid sample rate %d", r)
		}
		return int(r), nil
	}
	return 0, fmt.Errorf("parse AudioSpecificConfig: reserved sample rate index %d", idx)
}

// MarshalConfig returns the two-byte AudioSpecificConfig for a plain
// object type (< 31), a standard sample rate and a channel configuration,
// e.g. to build a config from an ADTS header.
func MarshalConfig(objectType, sampleRate, channels int) ([]byte, error) {
	idx := -1
	for i, r := range sampleRates {
		if r == sampleRate {
			idx = i
		}
	}
	cc := -1
	for i, n := range channelCounts {
		if n == channels && i != 0 {
			cc = i
		}
	}
	if objectType <= 0 || objectType >= 31 || idx < 0 || cc < 0 {
		return nil, fmt.Errorf("cannot express object type %d, %d Hz, %d channels in two bytes",
			objectType, sampleRate, channels)
	}
	v := uint16(objectType)<<11 | uint16(idx)<<7 | uint16(cc)<<3
	return []byte{byte(v >> 8), byte(v)}, nil
}
