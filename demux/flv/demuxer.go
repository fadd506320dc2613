package flv

import (
	"errors"

	"github.com/tributary-ingress/tributary/media"
)

// Demuxer turns FLV tag bodies, as an RTMP server receives them in its
// video, audio and data messages or as Reader reads them from a file, into
// tracks and frames.
//
// Frames own their bytes: each frame is one allocation for its payload
// (video NAL units are sub-slices of it) plus one for the frame itself;
// nothing aliases the tag body passed in, which the caller may reuse as
// soon as the Write method returns.
//
// A Demuxer is not safe for concurrent use.
type Demuxer struct {
	// OnTrack is called when a track is set up: at the first sequence
	// header of a codec (first frame for MP3 and Opus, which need none).
	// When the publisher later sends a different configuration, OnTrack
	// is called again with a new *Track of the same ID, and the frames
	// that follow point to it. Required.
	OnTrack func(*media.Track) error

	// OnFrame is called for every frame, in the order of the tags.
	// Required.
	OnFrame func(*media.Frame) error

	// OnMetadata is called for every onMetaData script tag. Optional.
	OnMetadata func(*Metadata) error

	video videoState
	audio audioState
	tl    timeline
	stats Stats
}

// Initialize checks the configuration. Call it before the Write methods.
func (d *Demuxer) Initialize() error {
	if d.OnTrack == nil || d.OnFrame == nil {
		return errors.New("flv: Demuxer needs OnTrack and OnFrame")
	}
	return nil
}

// Stats returns the counters of what was demuxed, dropped and repaired.
func (d *Demuxer) Stats() Stats {
	s := d.stats
	s.Discontinuities = d.tl.discontinuities
	return s
}

// VideoTrack returns the current video track, nil before its sequence
// header.
func (d *Demuxer) VideoTrack() *media.Track { return d.video.track }

// AudioTrack returns the current audio track, nil before it is set up.
func (d *Demuxer) AudioTrack() *media.Track { return d.audio.track }

// Enhanced RTMP packet modifiers shared by audio and video.
//
// Specification: Enhanced RTMP v2, "ModEx" and "Multitrack".
const (
	modExTypeTimestampOffsetNano = 0

	multitrackOneTrack             = 0
	multitrackManyTracks           = 1
	multitrackManyTracksManyCodecs = 2

	// maxModExNanoOffset: the offset refines a millisecond timestamp.
	maxModExNanoOffset = 999_999
)

// exPacket is one track's share of an Enhanced RTMP packet.
type exPacket struct {
	packetType uint8
	fourCC     uint32
	trackID    uint8
	body       []byte
}

// parseModEx consumes the ModEx prefixes of an Enhanced RTMP packet, whose
// first packet type is pt. It returns the rest, the real packet type and a
// timestamp offset in nanoseconds.
func parseModEx(buf []byte, pt, modExPacketType uint8) ([]byte, uint8, int64, error) {
	var nano int64
	for pt == modExPacketType {
		if len(buf) < 1 {
			return nil, 0, 0, errs.Malformed("truncated ModEx")
		}
		size := int(buf[0]) + 1
		buf = buf[1:]
		if size == 256 {
			if len(buf) < 2 {
				return nil, 0, 0, errs.Malformed("truncated ModEx")
			}
			size = (int(buf[0])<<8 | int(buf[1])) + 1
			buf = buf[2:]
		}
		if len(buf) < size+1 {
			return nil, 0, 0, errs.Malformed("truncated ModEx")
		}
		data := buf[:size]
		next := buf[size]
		buf = buf[size+1:]
		if next>>4 == modExTypeTimestampOffsetNano && len(data) >= 3 {
			nano = int64(data[0])<<16 | int64(data[1])<<8 | int64(data[2])
			if nano > maxModExNanoOffset {
				return nil, 0, 0, errs.Malformed("ModEx timestamp offset %d ns", nano)
			}
		}
		pt = next & 0x0f
	}
	return buf, pt, nano, nil
}

// forEachTrack splits an Enhanced RTMP packet body that follows the packet
// type (and ModEx) into per-track packets and calls fn for each. For a
// non-multitrack packet that is one call with track 0.
func forEachTrack(buf []byte, pt, multitrackPacketType uint8, fn func(exPacket) error) error {
	if pt != multitrackPacketType {
		if len(buf) < 4 {
			return errs.Malformed("truncated FourCC")
		}
		return fn(exPacket{packetType: pt, fourCC: be32(buf), body: buf[4:]})
	}
	if len(buf) < 1 {
		return errs.Malformed("truncated multitrack header")
	}
	mt := buf[0] >> 4
	pt = buf[0] & 0x0f
	buf = buf[1:]
	if mt > multitrackManyTracksManyCodecs {
		return errs.Malformed("multitrack type %d", mt)
	}
	if pt == multitrackPacketType {
		return errs.Malformed("nested multitrack")
	}
	var fourCC uint32
	if mt != multitrackManyTracksManyCodecs {
		if len(buf) < 4 {
			return errs.Malformed("truncated FourCC")
		}
		fourCC = be32(buf)
		buf = buf[4:]
	}
	for len(buf) > 0 {
		if mt == multitrackManyTracksManyCodecs {
			if len(buf) < 4 {
				return errs.Malformed("truncated FourCC")
			}
			fourCC = be32(buf)
			buf = buf[4:]
		}
		if len(buf) < 1 {
			return errs.Malformed("truncated track id")
		}
		p := exPacket{packetType: pt, fourCC: fourCC, trackID: buf[0]}
		buf = buf[1:]
		if mt == multitrackOneTrack {
			p.body = buf
			buf = nil
		} else {
			if len(buf) < 3 {
				return errs.Malformed("truncated track size")
			}
			size := int(buf[0])<<16 | int(buf[1])<<8 | int(buf[2])
			buf = buf[3:]
			if size > len(buf) {
				return errs.Malformed("track size %d, %d bytes left", size, len(buf))
			}
			p.body = buf[:size]
			buf = buf[size:]
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// fourCCString renders a FourCC for messages, escaping non-printables.
func fourCCString(v uint32) string {
	b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return "'" + string(b) + "'"
}

func fourCC(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}
