// Package ac3 parses the sync frames of AC-3 (Dolby Digital) and E-AC-3
// (Dolby Digital Plus): enough to split an elementary stream into the
// frames a decoder takes and to describe the track (sample rate,
// channels, samples per frame). Own code: mediacommon's ac3 package reads
// AC-3 only (bsid up to 8), not E-AC-3.
//
// Specification: ATSC A/52:2018 (AC-3: section 5.3 and Table 5.18;
// E-AC-3: Annex E, section E.1.2).
package ac3

import (
	"errors"
	"fmt"
)

// MaxFrameSize bounds a sync frame: AC-3's largest is 3840 bytes
// (Table 5.18, 640 kbps at 32 kHz) and E-AC-3's frmsiz is 11 bits of
// 16-bit words, 4096 bytes.
const MaxFrameSize = 4096

// SamplesPerBlock is the number of samples per channel of one audio block;
// an AC-3 frame has 6 blocks, an E-AC-3 frame 1, 2, 3 or 6.
const SamplesPerBlock = 256

// ErrNotAC3 is returned when a buffer does not start with a sync word.
var ErrNotAC3 = errors.New("not an AC-3 or E-AC-3 sync frame")

// FrameHeader is what Tributary needs from a sync frame.
type FrameHeader struct {
	// EAC3 is true for E-AC-3 (bsid 11 to 16), false for AC-3 (bsid up
	// to 8; 9 and 10 are AC-3's half- and quarter-rate variants).
	EAC3 bool
	// Dependent is true for an E-AC-3 dependent substream (strmtyp 1),
	// which carries channels beyond 5.1 and belongs with the independent
	// frame before it.
	Dependent  bool
	SampleRate int
	// Channels counts the full-bandwidth channels and the LFE channel.
	Channels int
	// Samples is the number of samples per channel in the frame.
	Samples int
	// Size is the size of the frame in bytes, header included.
	Size int
}

// frameSizes are AC-3 frame sizes in 16-bit words by frmsizecod/2 and
// fscod (48, 44.1, 32 kHz), Table 5.18; odd frmsizecod adds a word at
// 44.1 kHz.
var frameSizes = [19][3]int{
	{64, 69, 96}, {80, 87, 120}, {96, 104, 144}, {112, 121, 168}, {128, 139, 192},
	{160, 174, 240}, {192, 208, 288}, {224, 243, 336}, {256, 278, 384}, {320, 348, 480},
	{384, 417, 576}, {448, 487, 672}, {512, 557, 768}, {640, 696, 960}, {768, 835, 1152},
	{896, 975, 1344}, {1024, 1114, 1536}, {1152, 1253, 1728}, {1280, 1393, 1920},
}

var sampleRates = [3]int{48000, 44100, 32000}

// acmodChannels are the full-bandwidth channels by acmod (Table 5.8).
var acmodChannels = [8]int{2, 1, 2, 3, 3, 4, 4, 5}

// ParseFrameHeader parses the sync frame header at the start of buf.
func ParseFrameHeader(buf []byte) (FrameHeader, error) {
	var h FrameHeader
	if len(buf) < 8 {
		return h, fmt.Errorf("%w: %d bytes", ErrNotAC3, len(buf))
	}
	if buf[0] != 0x0b || buf[1] != 0x77 {
		return h, ErrNotAC3
	}
	// bsid is at the same place in both: after syncinfo in AC-3 (byte 5,
	// high 5 bits) and after strmtyp..lfeon in E-AC-3 (byte 5 too).
	bsid := int(buf[5] >> 3)
	switch {
	case bsid <= 10:
		return parseAC3(buf, bsid)
	case bsid <= 16:
		return parseEAC3(buf)
	}
	return h, fmt.Errorf("AC-3: unsupported bsid %d", bsid)
}

func parseAC3(buf []byte, bsid int) (FrameHeader, error) {
	var h FrameHeader
	fscod := int(buf[4] >> 6)
	frmsizecod := int(buf[4] & 0x3f)
	if fscod == 3 {
		return h, errors.New("AC-3: reserved sample rate code")
	}
	if frmsizecod >= 2*len(frameSizes) {
		return h, fmt.Errorf("AC-3: frame size code %d", frmsizecod)
	}
	words := frameSizes[frmsizecod/2][fscod]
	if fscod == 1 && frmsizecod%2 == 1 {
		words++
	}
	h.Size = 2 * words
	// bsid 9 and 10 halve and quarter the sample rate (A/52 Annex D).
	h.SampleRate = sampleRates[fscod] >> max(0, bsid-8)
	// bsi: bsid(5) bsmod(3) acmod(3), then cmixlev(2) if 3 front
	// channels, surmixlev(2) if surround, dsurmod(2) if 2/0, lfeon(1).
	acmod := int(buf[6] >> 5)
	bit := 3 // bits of buf[6] used
	if acmod&1 != 0 && acmod != 1 {
		bit += 2
	}
	if acmod&4 != 0 {
		bit += 2
	}
	if acmod == 2 {
		bit += 2
	}
	lfe := 0
	if (uint16(buf[6])<<8|uint16(buf[7]))>>(15-bit)&1 != 0 {
		lfe = 1
	}
	h.Channels = acmodChannels[acmod] + lfe
	h.Samples = 6 * SamplesPerBlock
	return h, nil
}

func parseEAC3(buf []byte) (FrameHeader, error) {
	var h FrameHeader
	h.EAC3 = true
	strmtyp := int(buf[2] >> 6)
	if strmtyp == 3 {
		return h, errors.New("E-AC-3: reserved stream type")
	}
	h.Dependent = strmtyp == 1
	frmsiz := int(buf[2]&0x07)<<8 | int(buf[3])
	h.Size = 2 * (frmsiz + 1)
	fscod := int(buf[4] >> 6)
	blocks := 6
	if fscod == 3 {
		fscod2 := int(buf[4] >> 4 & 3)
		if fscod2 == 3 {
			return h, errors.New("E-AC-3: reserved sample rate code")
		}
		h.SampleRate = sampleRates[fscod2] / 2
	} else {
		h.SampleRate = sampleRates[fscod]
		blocks = [4]int{1, 2, 3, 6}[buf[4]>>4&3]
	}
	acmod := int(buf[4] >> 1 & 7)
	lfe := int(buf[4] & 1)
	h.Channels = acmodChannels[acmod] + lfe
	h.Samples = blocks * SamplesPerBlock
	if h.Size < 8 {
		return h, fmt.Errorf("E-AC-3: frame of %d bytes", h.Size)
	}
	return h, nil
}

// SplitFrames splits a sequence of whole sync frames (a PES payload, an
// MP4 sample) into the units a decoder takes, aliasing buf: each AC-3
// frame alone, each independent E-AC-3 frame together with the dependent
// substreams that follow it. It returns the header of the first frame of
// each unit. Bytes after the last whole frame are an error, as is a
// dependent substream with no independent frame before it.
func SplitFrames(buf []byte) ([][]byte, []FrameHeader, error) {
	var units [][]byte
	var heads []FrameHeader
	start := -1
	for pos := 0; pos < len(buf); {
		h, err := ParseFrameHeader(buf[pos:])
		if err != nil {
			return nil, nil, err
		}
		if h.Size > len(buf)-pos {
			return nil, nil, fmt.Errorf("AC-3: frame of %d bytes, %d left", h.Size, len(buf)-pos)
		}
		if h.Dependent {
			if start < 0 {
				return nil, nil, errors.New("E-AC-3: dependent substream without its independent frame")
			}
		} else {
			if start >= 0 {
				units = append(units, buf[start:pos:pos])
			}
			start = pos
			heads = append(heads, h)
		}
		pos += h.Size
	}
	if start < 0 {
		return nil, nil, ErrNotAC3
	}
	units = append(units, buf[start:len(buf):len(buf)])
	return units, heads, nil
}
