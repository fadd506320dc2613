package aac

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// MaxLATMElementSize bounds an AudioMuxElement: LOAS gives it 13 bits of
// length (8191 bytes). An element with its configuration in band is
// parsed by mediacommon, whose buffer for a payload follows the coded
// length (up to 255 times the bytes that code it) before the payload is
// read: the bound keeps that under 2 MiB.
const MaxLATMElementSize = 8191

// ErrNoLATMConfig is returned for elements that come before the first
// StreamMuxConfig of a stream that carries it in band.
var ErrNoLATMConfig = errors.New("LATM: no StreamMuxConfig yet")

// LATM reads AAC in LATM, the AudioMuxElements of RTP "MP4A-LATM"
// (RFC 6416) and of LOAS (MPEG-TS stream type 0x11), into raw AAC frames.
// One program of one layer is supported, with its frames' lengths in the
// element (frameLengthType 0), which is what encoders write.
//
// Own code for elements without an in-band configuration, the RTP case
// (zero-copy, bounds checked before slicing); mediacommon's
// AudioMuxElement for those with one.
//
// Specification: ISO/IEC 14496-3, section 1.7.3 (Tables 1.41 to 1.45).
type LATM struct {
	// InBand is true when every element may carry its StreamMuxConfig
	// (muxConfigPresent = 1: LOAS, and RTP with cpresent=1).
	InBand bool

	smc  *mpeg4audio.StreamMuxConfig
	conf *Config
	asc  []byte
}

// SetStreamMuxConfig sets the configuration given out of band (the SDP's
// config parameter).
func (l *LATM) SetStreamMuxConfig(smc *mpeg4audio.StreamMuxConfig) error {
	if smc == nil {
		return errors.New("LATM: no StreamMuxConfig")
	}
	if len(smc.Programs) != 1 || len(smc.Programs[0].Layers) != 1 {
		return fmt.Errorf("LATM: %d programs: only one program of one layer is supported", len(smc.Programs))
	}
	layer := smc.Programs[0].Layers[0]
	if layer.FrameLengthType != 0 {
		return fmt.Errorf("LATM: frame length type %d is not supported", layer.FrameLengthType)
	}
	if layer.AudioSpecificConfig == nil {
		return errors.New("LATM: no AudioSpecificConfig")
	}
	if smc.OtherDataPresent {
		return errors.New("LATM: other data is not supported")
	}
	asc, err := layer.AudioSpecificConfig.Marshal()
	if err != nil {
		return fmt.Errorf("LATM: %w", err)
	}
	conf, err := ParseConfig(asc)
	if err != nil {
		return fmt.Errorf("LATM: %w", err)
	}
	if conf.Channels <= 0 {
		return errors.New("LATM: channel layout in a program config element is not supported")
	}
	l.smc, l.conf, l.asc = smc, conf, asc
	return nil
}

// Config returns the AudioSpecificConfig of the stream and what it says,
// nil before the first StreamMuxConfig.
func (l *LATM) Config() ([]byte, *Config) { return l.asc, l.conf }

// SamplesPerFrame is the number of samples per channel an AAC frame of
// the stream decodes to, at Config's SampleRate (twice the core's 1024
// with SBR).
func (l *LATM) SamplesPerFrame() int {
	if l.conf == nil {
		return SamplesPerFrame
	}
	n := SamplesPerFrame
	if l.smc.Programs[0].Layers[0].AudioSpecificConfig.FrameLengthFlag {
		n = 960
	}
	if l.conf.CoreSampleRate > 0 && l.conf.SampleRate > l.conf.CoreSampleRate {
		n = n * l.conf.SampleRate / l.conf.CoreSampleRate
	}
	return n
}

// Decode returns the AAC frames of one AudioMuxElement. changed is true
// when the element carried a configuration other than the current one
// (the first included): Config then describes the new one. Frames alias
// ame when the configuration is out of band.
func (l *LATM) Decode(ame []byte) (frames [][]byte, changed bool, err error) {
	if len(ame) > MaxLATMElementSize {
		return nil, false, fmt.Errorf("LATM: element of %d bytes (at most %d)", len(ame), MaxLATMElementSize)
	}
	if !l.InBand {
		if l.smc == nil {
			return nil, false, ErrNoLATMConfig
		}
		frames, err := l.payloads(ame)
		return frames, false, err
	}
	e := mpeg4audio.AudioMuxElement{MuxConfigPresent: true, StreamMuxConfig: l.smc}
	if len(ame) > 0 && ame[0]&0x80 != 0 && l.smc == nil {
		return nil, false, ErrNoLATMConfig // useSameStreamMux with nothing to use
	}
	if err := e.Unmarshal(ame); err != nil {
		return nil, false, fmt.Errorf("LATM: %w", err)
	}
	if e.StreamMuxConfig != l.smc {
		if l.smc == nil || !sameConfig(e.StreamMuxConfig, l.smc) {
			if err := l.SetStreamMuxConfig(e.StreamMuxConfig); err != nil {
				return nil, false, err
			}
			changed = true
		}
	}
	for _, sub := range e.Payloads {
		if len(sub) != 1 || len(sub[0]) != 1 {
			return nil, false, errors.New("LATM: unexpected payload layout")
		}
		if len(sub[0][0]) > 0 {
			frames = append(frames, sub[0][0])
		}
	}
	return frames, changed, nil
}

// sameConfig compares the parts of two configurations that matter to a
// decoder.
func sameConfig(a, b *mpeg4audio.StreamMuxConfig) bool {
	if a.NumSubFrames != b.NumSubFrames || len(a.Programs) != len(b.Programs) || len(a.Programs) != 1 ||
		len(a.Programs[0].Layers) != 1 || len(b.Programs[0].Layers) != 1 {
		return false
	}
	la, lb := a.Programs[0].Layers[0], b.Programs[0].Layers[0]
	if la.FrameLengthType != lb.FrameLengthType || la.AudioSpecificConfig == nil || lb.AudioSpecificConfig == nil {
		return false
	}
	x, err1 := la.AudioSpecificConfig.Marshal()
	y, err2 := lb.AudioSpecificConfig.Marshal()
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// payloads reads PayloadLengthInfo and PayloadMux for every subframe of an
// element without configuration: byte aligned, so the frames are slices
// of ame.
func (l *LATM) payloads(ame []byte) ([][]byte, error) {
	n := int(l.smc.NumSubFrames) + 1
	frames := make([][]byte, 0, n)
	pos := 0
	for range n {
		size := 0
		for {
			if pos >= len(ame) {
				return nil, errors.New("LATM: element ends in a payload length")
			}
			b := ame[pos]
			pos++
			size += int(b)
			if b != 255 {
				break
			}
		}
		if size > len(ame)-pos {
			return nil, fmt.Errorf("LATM: payload of %d bytes, %d left", size, len(ame)-pos)
		}
		if size > 0 {
			frames = append(frames, ame[pos:pos+size:pos+size])
		}
		pos += size
	}
	return frames, nil
}

// SplitLOAS splits an AudioSyncStream (LOAS, ISO/IEC 14496-3 section
// 1.7.2) into AudioMuxElements, aliasing buf.
func SplitLOAS(buf []byte) ([][]byte, error) {
	var out [][]byte
	for len(buf) > 0 {
		if len(buf) < 3 {
			return nil, errors.New("LOAS: truncated header")
		}
		if buf[0] != 0x56 || buf[1]&0xe0 != 0xe0 {
			return nil, errors.New("LOAS: no sync word")
		}
		n := int(buf[1]&0x1f)<<8 | int(buf[2])
		if n > len(buf)-3 {
			return nil, fmt.Errorf("LOAS: element of %d bytes, %d left", n, len(buf)-3)
		}
		out = append(out, buf[3:3+n:3+n])
		buf = buf[3+n:]
	}
	if len(out) == 0 {
		return nil, errors.New("LOAS: empty")
	}
	return out, nil
}
