package forward

import (
	"encoding/binary"
	"strings"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/vp8"
)

// H.264 RTP payload structures carrying parameter sets.
//
// Specification: RFC 6184, section 5.7.1 (STAP-A).
const (
	naluTypeSTAPA = 24
	stapAHeader   = 1
	stapASizeLen  = 2
)

// PictureSize returns the picture size a forwarded RTP payload announces,
// or ok false when the packet carries none: an H.264 SPS (single NAL unit
// or inside a STAP-A), the header of a VP8 keyframe, or the scalability
// structure of a VP9 keyframe (largest spatial layer). AV1 and the rest
// are not probed. The payload is not modified.
func PictureSize(mime string, payload []byte) (width, height int, ok bool) {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeH264):
		return h264Size(payload)
	case strings.ToLower(webrtc.MimeTypeVP8):
		var p codecs.VP8Packet
		data, err := p.Unmarshal(payload)
		if err != nil || p.S != 1 || p.PID != 0 {
			return 0, 0, false
		}
		w, h, err := vp8.ParseKeyframeSize(data)
		return w, h, err == nil
	case strings.ToLower(webrtc.MimeTypeVP9):
		var p codecs.VP9Packet
		if _, err := p.Unmarshal(payload); err != nil || !p.V || !p.Y {
			return 0, 0, false
		}
		for i := range p.Width {
			if i < len(p.Height) && int(p.Width[i])*int(p.Height[i]) > width*height {
				width, height = int(p.Width[i]), int(p.Height[i])
			}
		}
		return width, height, width > 0 && height > 0
	}
	return 0, 0, false
}

func h264Size(payload []byte) (int, int, bool) {
	if len(payload) == 0 {
		return 0, 0, false
	}
	switch payload[0] & 0x1f {
	case byte(h264.NALUTypeSPS):
		return spsSize(payload)
	case naluTypeSTAPA:
		rest := payload[stapAHeader:]
		for len(rest) > stapASizeLen {
			n := int(binary.BigEndian.Uint16(rest))
			rest = rest[stapASizeLen:]
			if n == 0 || n > len(rest) {
				return 0, 0, false
			}
			if rest[0]&0x1f == byte(h264.NALUTypeSPS) {
				return spsSize(rest[:n])
			}
			rest = rest[n:]
		}
	}
	return 0, 0, false
}

func spsSize(nalu []byte) (int, int, bool) {
	sps, err := h264.ParseSPS(nalu)
	if err != nil || sps.Width <= 0 || sps.Height <= 0 || sps.Width > h264.MaxDimension || sps.Height > h264.MaxDimension {
		return 0, 0, false
	}
	return sps.Width, sps.Height, true
}
