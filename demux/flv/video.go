package flv

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tributary-ingress/tributary/codec/av1"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/codec/vp9"
	"github.com/tributary-ingress/tributary/media"
)

// Legacy video tag header values.
//
// Specification: FLV v10.1, E.4.3.1 VIDEODATA.
const (
	videoFrameTypeKey     = 1
	videoFrameTypeCommand = 5

	videoCodecAVC = 7
	// videoCodecHEVCLegacy is not in any Adobe spec: Chinese CDNs and
	// FFmpeg forks (and SRS) put HEVC under codec id 12 with the AVC
	// packet layout, before Enhanced RTMP existed.
	videoCodecHEVCLegacy = 12

	avcPacketSequenceHeader = 0
	avcPacketNALU           = 1
	avcPacketEndOfSequence  = 2
)

var legacyVideoCodecNames = map[uint8]string{
	1: "JPEG", 2: "Sorenson H.263", 3: "Screen video", 4: "On2 VP6",
	5: "On2 VP6 with alpha", 6: "Screen video v2", 13: "AV1 (non-standard id)",
}

// Enhanced RTMP video packet types and FourCCs.
//
// Specification: Enhanced RTMP v2, "ExVideoTagHeader".
const (
	videoPacketSequenceStart        = 0
	videoPacketCodedFrames          = 1
	videoPacketSequenceEnd          = 2
	videoPacketCodedFramesX         = 3
	videoPacketMetadata             = 4
	videoPacketMPEG2TSSequenceStart = 5
	videoPacketMultitrack           = 6
	videoPacketModEx                = 7
)

var (
	fourCCAVC  = fourCC("avc1")
	fourCCHEVC = fourCC("hvc1")
	fourCCAV1  = fourCC("av01")
	fourCCVP9  = fourCC("vp09")
)

// inlineNALUs is how many NAL units a frame holds without a separate
// allocation for its Data slice: x264/x265 AUs carry 1–4 (AUD, SEI,
// parameter sets, slice).
const inlineNALUs = 4

// videoFrame puts a frame and its Data backing array in one allocation.
type videoFrame struct {
	frame media.Frame
	nalus [inlineNALUs][]byte
}

type videoState struct {
	track      *media.Track
	lengthSize int
}

// WriteVideo demuxes the body of a video tag (RTMP message type 9) with
// its timestamp in milliseconds.
func (d *Demuxer) WriteVideo(timestampMs uint32, body []byte) error {
	if len(body) > MaxTagSize {
		return errs.OverLimit("video tag of %d bytes exceeds %d", len(body), MaxTagSize)
	}
	ms := d.tl.unwrap(timestampMs)
	if len(body) < 1 {
		d.stats.DroppedEmpty++
		return nil
	}
	if body[0]&0x80 != 0 {
		return d.writeExVideo(ms, body)
	}
	frameType := body[0] >> 4
	codecID := body[0] & 0x0f
	var codec media.CodecID
	switch codecID {
	case videoCodecAVC:
		codec = media.CodecH264
	case videoCodecHEVCLegacy:
		codec = media.CodecH265
	default:
		name, ok := legacyVideoCodecNames[codecID]
		if !ok {
			name = "unknown"
		}
		return errs.UnsupportedCodec(media.KindVideo, fmt.Sprintf("%s (FLV codec id %d)", name, codecID), "")
	}
	if frameType == videoFrameTypeCommand {
		return nil // video info/command frame: one byte, nothing to play
	}
	if len(body) < 5 {
		return errs.Malformed("AVC video tag of %d bytes", len(body))
	}
	cts := int64(int32(uint32(body[2])<<24|uint32(body[3])<<16|uint32(body[4])<<8) >> 8)
	switch body[1] {
	case avcPacketSequenceHeader:
		return d.setVideoConfig(codec, body[5:])
	case avcPacketNALU:
		return d.writeVideoFrame(codec, ms, 0, cts, frameType == videoFrameTypeKey, body[5:])
	case avcPacketEndOfSequence:
		return nil
	}
	return errs.Malformed("AVC packet type %d", body[1])
}

func (d *Demuxer) writeExVideo(ms int64, body []byte) error {
	frameType := (body[0] >> 4) & 0x07
	buf, pt, nano, err := parseModEx(body[1:], body[0]&0x0f, videoPacketModEx)
	if err != nil {
		return err
	}
	return forEachTrack(buf, pt, videoPacketMultitrack, func(p exPacket) error {
		if p.trackID != 0 {
			d.stats.DroppedOtherTracks++
			return nil
		}
		var codec media.CodecID
		switch p.fourCC {
		case fourCCAVC:
			codec = media.CodecH264
		case fourCCHEVC:
			codec = media.CodecH265
		case fourCCAV1:
			codec = media.CodecAV1
		case fourCCVP9:
			codec = media.CodecVP9
		default:
			return errs.UnsupportedCodec(media.KindVideo, "FourCC "+fourCCString(p.fourCC), "")
		}
		if frameType == videoFrameTypeCommand && p.packetType != videoPacketMetadata {
			return nil
		}
		switch p.packetType {
		case videoPacketSequenceStart:
			return d.setVideoConfig(codec, p.body)
		case videoPacketCodedFrames:
			data := p.body
			var cts int64
			if codec == media.CodecH264 || codec == media.CodecH265 {
				if len(data) < 3 {
					return errs.Malformed("truncated composition time")
				}
				cts = int64(int32(uint32(data[0])<<24|uint32(data[1])<<16|uint32(data[2])<<8) >> 8)
				data = data[3:]
			}
			return d.writeVideoFrame(codec, ms, nano, cts, frameType == videoFrameTypeKey, data)
		case videoPacketCodedFramesX:
			return d.writeVideoFrame(codec, ms, nano, 0, frameType == videoFrameTypeKey, p.body)
		case videoPacketSequenceEnd, videoPacketMetadata:
			return nil // metadata carries HDR colour info, not needed to forward
		case videoPacketMPEG2TSSequenceStart:
			return errs.UnsupportedCodec(media.KindVideo, "AV1 with an MPEG-2 TS sequence start", "")
		}
		return errs.Malformed("video packet type %d", p.packetType)
	})
}

// setVideoConfig handles a sequence header: it parses the decoder
// configuration and sets up (or replaces) the video track.
func (d *Demuxer) setVideoConfig(codec media.CodecID, config []byte) error {
	if t := d.video.track; t != nil && t.Codec == codec && bytes.Equal(t.Config, config) {
		return nil // repeated sequence header (RTMP servers resend it)
	}
	t := &media.Track{ID: VideoTrackID, Kind: media.KindVideo, Codec: codec, ClockRate: VideoClockRate}
	lengthSize := 0
	switch codec {
	case media.CodecH264:
		var c h264.DecoderConfig
		if err := c.Unmarshal(config); err != nil {
			return errs.Malformed("AVC sequence header: %v", err)
		}
		lengthSize = c.LengthSize
		// An SPS mediacommon cannot parse leaves the size unknown rather
		// than failing a stream a decoder may well play.
		if sps, err := h264.ParseSPS(c.SPS[0]); err == nil {
			t.Width, t.Height = sps.Width, sps.Height
		}
	case media.CodecH265:
		var c h265.DecoderConfig
		if err := c.Unmarshal(config); err != nil {
			return errs.Malformed("HEVC sequence header: %v", err)
		}
		lengthSize = c.LengthSize
		if sps, err := h265.ParseSPS(c.SPS[0]); err == nil {
			t.Width, t.Height = sps.Width, sps.Height
		}
	case media.CodecAV1:
		c, err := av1.ParseConfig(config)
		if err != nil {
			return errs.Malformed("AV1 sequence start: %v", err)
		}
		t.Width, t.Height = c.Width, c.Height
	case media.CodecVP9:
		if _, err := vp9.ParseConfig(config); err != nil {
			return errs.Malformed("VP9 sequence start: %v", err)
		}
		// vpcC has no frame size; it is in the keyframes.
	}
	t.Config = bytes.Clone(config)
	d.video.track = t
	d.video.lengthSize = lengthSize
	return d.OnTrack(t)
}

// writeVideoFrame emits one coded frame of codec at ms (+nano) with the
// composition time offset cts (ms).
func (d *Demuxer) writeVideoFrame(codec media.CodecID, ms, nano, cts int64, flvKey bool, data []byte) error {
	t := d.video.track
	if t == nil || t.Codec != codec {
		d.stats.DroppedBeforeConfig++
		return nil
	}
	if len(data) == 0 {
		d.stats.DroppedEmpty++
		return nil
	}
	vf := &videoFrame{}
	f := &vf.frame
	f.Track = t
	f.DTS = ms*90 + nano*90/1_000_000
	f.PTS = f.DTS + cts*90
	buf := make([]byte, len(data))
	copy(buf, data)
	switch codec {
	case media.CodecH264, media.CodecH265:
		nalus, err := h264.AppendAVCC(vf.nalus[:0], buf, d.video.lengthSize)
		if err != nil {
			if errors.Is(err, h264.ErrNoNALUs) {
				d.stats.DroppedEmpty++
				return nil
			}
			return errs.Malformed("%s access unit: %v", codec, err)
		}
		f.Data = nalus[:len(nalus):len(nalus)]
		if codec == media.CodecH264 {
			f.Key = h264.IsKeyframe(nalus)
		} else {
			f.Key = h265.IsKeyframe(nalus)
		}
	default:
		vf.nalus[0] = buf
		f.Data = vf.nalus[:1:1]
		f.Key = flvKey
	}
	// H.264/H.265 keyframes are IDR/IRAP pictures found in the bitstream,
	// not the FLV frame type: encoders flag open-GOP I-frames as keyframes,
	// and a WebRTC receiver cannot start from those.
	d.stats.VideoFrames++
	return d.OnFrame(f)
}
