// Package mp3 parses MPEG-1/2 Audio Layer III frame headers, enough to
// describe an MP3 track (sample rate, channels). A thin layer over
// github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg1audio.
//
// Specification: ISO/IEC 11172-3, section 2.4.1.3; ISO/IEC 13818-3.
package mp3

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg1audio"
)

// FrameHeader is what Tributary needs from an MP3 frame header.
type FrameHeader struct {
	// MPEG2 is true for MPEG-2 (LSF, 16/22.05/24 kHz) frames.
	MPEG2      bool
	Layer      int
	Bitrate    int
	SampleRate int
	Channels   int
	// SamplesPerFrame is the number of samples per channel in the frame.
	SamplesPerFrame int
	// Length is the size of the whole frame in bytes, header included.
	Length int
}

// ParseFrameHeader parses the header at the start of buf. MPEG-2.5
// (8/11.025/12 kHz) is not supported, as in mediacommon.
func ParseFrameHeader(buf []byte) (FrameHeader, error) {
	var h mpeg1audio.FrameHeader
	if err := h.Unmarshal(buf); err != nil {
		return FrameHeader{}, fmt.Errorf("parse MPEG audio frame header: %w", err)
	}
	// mediacommon's FrameLen uses the MPEG-1 coefficient for every
	// frame; an MPEG-2 Layer III frame holds 576 samples, half as many,
	// so its length is 72·bitrate/rate (ISO/IEC 13818-3, 2.4.3.1).
	coef := 144
	if h.MPEG2 && h.Layer == 3 {
		coef = 72
	}
	length := coef * h.Bitrate / h.SampleRate
	if h.Padding {
		length++
	}
	ch := 2
	if h.ChannelMode == mpeg1audio.ChannelModeMono {
		ch = 1
	}
	return FrameHeader{
		MPEG2:           h.MPEG2,
		Layer:           int(h.Layer),
		Bitrate:         h.Bitrate,
		SampleRate:      h.SampleRate,
		Channels:        ch,
		SamplesPerFrame: h.SampleCount(),
		Length:          length,
	}, nil
}
