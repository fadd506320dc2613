// Package flvtest builds Enhanced RTMP (E-RTMP v2) FLV tag bodies for
// tests: FFmpeg 5.1 cannot write them, so tests wrap what real encoders
// produce (here: an MP4 file demuxed by demux/mp4) byte for byte as the
// specification lays them out.
//
// Specification: veovera/enhanced-rtmp, enhanced-rtmp-v2.md
// (ExVideoTagHeader, ExAudioTagHeader).
package flvtest

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/demux/mp4"
	"github.com/tributary-ingress/tributary/media"
)

// FLV tag types.
const (
	TagAudio = 8
	TagVideo = 9
)

// Enhanced RTMP packet types.
const (
	VideoPacketSequenceStart = 0
	VideoPacketCodedFrames   = 1 // with an SI24 composition time offset (AVC/HEVC)
	VideoPacketCodedFramesX  = 3 // composition time offset zero, not sent

	AudioPacketSequenceStart = 0
	AudioPacketCodedFrames   = 1

	soundFormatExHeader = 9
	videoPacketModEx    = 7
	modExNano           = 0
)

// Tag is one FLV tag: its type, its timestamp (DTS, ms) and its body.
type Tag struct {
	Type      uint8
	Timestamp uint32
	Body      []byte
}

// ExVideo builds an ExVideoTagHeader body: IsExHeader, frame type (key or
// inter), packet type, an optional ModEx nanosecond timestamp offset
// (nano > 0), the FourCC, then the payload.
func ExVideo(key bool, packetType uint8, fourCC string, nano int, payload []byte) []byte {
	ft := byte(2)
	if key {
		ft = 1
	}
	var b []byte
	if nano > 0 {
		b = append(b, 0x80|ft<<4|videoPacketModEx, 2, byte(nano>>16), byte(nano>>8), byte(nano), modExNano<<4|packetType)
	} else {
		b = append(b, 0x80|ft<<4|packetType)
	}
	b = append(b, fourCC...)
	return append(b, payload...)
}

// ExAudio builds an ExAudioTagHeader body: SoundFormat 9 (ExHeader),
// packet type, the FourCC, then the payload.
func ExAudio(packetType uint8, fourCC string, payload []byte) []byte {
	b := append([]byte{soundFormatExHeader<<4 | packetType}, fourCC...)
	return append(b, payload...)
}

// FourCC returns the Enhanced RTMP FourCC of a codec, or "" when it has
// none here.
func FourCC(c media.CodecID) string {
	switch c {
	case media.CodecH265:
		return "hvc1"
	case media.CodecAV1:
		return "av01"
	case media.CodecVP9:
		return "vp09"
	case media.CodecOpus:
		return "Opus"
	case media.CodecAAC:
		return "mp4a"
	}
	return ""
}

// FromMP4 demuxes an MP4 file (HEVC, AV1 or VP9 video; Opus or AAC audio)
// and returns its tracks and the Enhanced RTMP tags carrying it, in
// timestamp order: per track a SequenceStart with the codec configuration
// (hvcC, av1C, vpcC, OpusHead, AudioSpecificConfig) at time 0, then one
// CodedFrames tag per sample. HEVC samples carry their composition time
// offset (PTS − DTS, ms), so B-frames survive; NAL units are 4-byte
// length-prefixed.
func FromMP4(ctx context.Context, path string) ([]*media.Track, []Tag, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	var tracks []*media.Track
	var tags []Tag
	ms := func(ticks int64, rate int) int64 { return media.MulDiv(ticks, 1000, int64(rate)) }
	d := &mp4.Demuxer{
		OnTrack: func(t *media.Track) error {
			fcc := FourCC(t.Codec)
			if fcc == "" {
				return fmt.Errorf("flvtest: no Enhanced RTMP FourCC for %v", t.Codec)
			}
			tracks = append(tracks, t)
			switch t.Kind {
			case media.KindVideo:
				tags = append(tags, Tag{TagVideo, 0, ExVideo(true, VideoPacketSequenceStart, fcc, 0, t.Config)})
			case media.KindAudio:
				tags = append(tags, Tag{TagAudio, 0, ExAudio(AudioPacketSequenceStart, fcc, t.Config)})
			}
			return nil
		},
		OnFrame: func(fr *media.Frame) error {
			t := fr.Track
			fcc := FourCC(t.Codec)
			dts := ms(fr.DTS, t.ClockRate)
			if dts < 0 {
				return fmt.Errorf("flvtest: negative DTS %d ms", dts)
			}
			switch t.Kind {
			case media.KindVideo:
				var payload []byte
				pt := uint8(VideoPacketCodedFramesX)
				switch t.Codec {
				case media.CodecH265:
					data, err := h264.JoinAVCC(fr.Data)
					if err != nil {
						return err
					}
					cts := ms(fr.PTS, t.ClockRate) - dts
					pt = VideoPacketCodedFrames
					payload = append([]byte{byte(cts >> 16), byte(cts >> 8), byte(cts)}, data...)
				default:
					for _, b := range fr.Data {
						payload = append(payload, b...)
					}
				}
				tags = append(tags, Tag{TagVideo, uint32(dts), ExVideo(fr.Key, pt, fcc, 0, payload)})
			case media.KindAudio:
				var payload []byte
				for _, b := range fr.Data {
					payload = append(payload, b...)
				}
				tags = append(tags, Tag{TagAudio, uint32(dts), ExAudio(AudioPacketCodedFrames, fcc, payload)})
			}
			return nil
		},
	}
	if err := d.Initialize(); err != nil {
		return nil, nil, err
	}
	if err := d.Run(ctx, f, st.Size()); err != nil {
		return nil, nil, err
	}
	// Sequence starts first, then by DTS; the demuxer already interleaves
	// by decode time, the sort only undoes the rounding to milliseconds.
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].Timestamp < tags[j].Timestamp })
	return tracks, tags, nil
}
