package whip

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/vp8"
	"github.com/tributary-ingress/tributary/media"
)

// maxFrameSize bounds one reassembled video frame: a 50 Mbps 2160p
// keyframe fits (as h264.MaxAccessUnitSize in mediacommon).
const maxFrameSize = 8 << 20

// FramePublisher receives the depacketized frames of a WHIP session (a
// frame-based session that transcodes implements it).
type FramePublisher interface {
	Track(t *media.Track) error
	Frame(f *media.Frame) error
	Close(err error)
	Done() <-chan struct{}
}

// Depacketizer is a Publisher that turns the RTP packets into frames for
// a FramePublisher: H.264 access units (NAL units without start codes),
// VP8 and VP9 frames, Opus packets. Only the first (highest) simulcast
// layer is used. Timestamps are unwrapped and put on one timeline from
// the arrival of each track's first packet. A lost packet drops the frame
// and asks the client for a keyframe.
type Depacketizer struct {
	// ID is the resource ID.
	ID        string
	Publisher FramePublisher
	Logger    logger.Logger

	mu      sync.Mutex
	origin  time.Time
	request func(layer int)
	video   *depack
	audio   *depack
}

// SessionLogger makes the WHIP lines of the session carry its fields.
func (d *Depacketizer) SessionLogger() logger.Logger { return d.Logger }

// depack reassembles one stream; used by the stream's reader goroutine
// (and Start before it).
type depack struct {
	d       *Depacketizer
	track   *media.Track
	codec   media.CodecID
	unpack  rtp.Depacketizer
	rate    int // audio: the RTP clock rate
	started bool
	lastSeq uint16
	lastTS  uint32
	pts     int64 // unwrapped RTP timestamp of the current frame
	buf     []byte
	parts   int
	broken  bool
	sent    bool // Track announced
	// VP9 keyframe and size, from the payload descriptor of the frame's
	// first packet (RFC 9628, section 4.2: P=0 is a keyframe; the
	// scalability structure carries the size).
	vp9Key     bool
	vp9W, vp9H int
}

// ResourceID implements Publisher.
func (d *Depacketizer) ResourceID() string { return d.ID }

// Done implements Publisher.
func (d *Depacketizer) Done() <-chan struct{} { return d.Publisher.Done() }

// Close implements Publisher.
func (d *Depacketizer) Close(err error) { d.Publisher.Close(err) }

// Start implements Publisher: it prepares a depacketizer per stream.
func (d *Depacketizer) Start(n Negotiated) error {
	if d.Logger == nil {
		d.Logger = logger.GetLogger()
	}
	d.request = n.RequestKeyframe
	if n.Video != nil {
		v := &depack{d: d}
		switch strings.ToLower(n.Video.MimeType) {
		case strings.ToLower(webrtc.MimeTypeH264):
			v.codec, v.unpack = media.CodecH264, &codecs.H264Packet{}
		case strings.ToLower(webrtc.MimeTypeVP8):
			v.codec, v.unpack = media.CodecVP8, &codecs.VP8Packet{}
		case strings.ToLower(webrtc.MimeTypeVP9):
			v.codec, v.unpack = media.CodecVP9, &codecs.VP9Packet{}
		default:
			return fmt.Errorf("%w: transcoding takes H.264, VP8 or VP9 video from WHIP, not %s", ErrBadOffer, n.Video.MimeType)
		}
		d.video = v
	}
	if n.Audio != nil {
		codec, rate := media.CodecOpus, 48000
		switch strings.ToLower(n.Audio.MimeType) {
		case strings.ToLower(webrtc.MimeTypePCMA):
			codec, rate = media.CodecPCMA, 8000
		case strings.ToLower(webrtc.MimeTypePCMU):
			codec, rate = media.CodecPCMU, 8000
		}
		d.audio = &depack{d: d, codec: codec, rate: rate}
		d.audio.track = &media.Track{Kind: media.KindAudio, Codec: codec, ClockRate: rate,
			SampleRate: rate, Channels: max(int(n.Audio.Channels), 1)}
	}
	return nil
}

// TranscodesAudio implements AudioTranscoder: the frames go to a session
// that transcodes, which takes G.711 as well as Opus.
func (d *Depacketizer) TranscodesAudio() bool { return true }

// WriteVideoRTP implements Publisher.
func (d *Depacketizer) WriteVideoRTP(layer int, p *rtp.Packet) {
	if layer != 0 || d.video == nil {
		return
	}
	d.video.write(p)
}

// WriteAudioRTP implements Publisher.
func (d *Depacketizer) WriteAudioRTP(p *rtp.Packet) {
	if d.audio != nil {
		d.audio.write(p)
	}
}

// ptsOrigin returns the RTP-clock offset that puts a stream whose first
// packet arrived at t on the session timeline.
func (d *Depacketizer) ptsOrigin(t time.Time, clockRate int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.origin.IsZero() {
		d.origin = t
	}
	return int64(t.Sub(d.origin)) * int64(clockRate) / int64(time.Second)
}

func (s *depack) write(p *rtp.Packet) {
	if len(p.Payload) == 0 {
		return // padding
	}
	now := time.Now()
	if !s.started {
		s.started = true
		s.pts = s.d.ptsOrigin(now, s.clockRate())
		s.lastTS = p.Timestamp
		s.lastSeq = p.SequenceNumber - 1
	}
	if p.SequenceNumber != s.lastSeq+1 {
		s.broken = true // lost (or reordered) packets: this frame is damaged
	}
	s.lastSeq = p.SequenceNumber
	if p.Timestamp != s.lastTS {
		if s.parts > 0 {
			s.emit(now) // marker lost: the new timestamp ends the frame
		}
		s.pts += int64(int32(p.Timestamp - s.lastTS))
		s.lastTS = p.Timestamp
		s.broken = s.broken && s.parts > 0
	}
	if s.codec.Kind() == media.KindAudio {
		// An Opus packet or a packet of G.711 samples is a frame.
		s.buf = append(s.buf[:0], p.Payload...)
		s.parts = 1
		s.broken = false
		s.emit(now)
		return
	}
	data, err := s.unpack.Unmarshal(p.Payload)
	if err != nil {
		s.broken = true
		return
	}
	if vp, ok := s.unpack.(*codecs.VP9Packet); ok && vp.B {
		s.vp9Key = !vp.P
		if vp.V && vp.Y && len(vp.Width) > 0 {
			s.vp9W, s.vp9H = int(vp.Width[len(vp.Width)-1]), int(vp.Height[len(vp.Height)-1])
		}
	}
	if len(s.buf)+len(data) > maxFrameSize {
		s.broken = true
		return
	}
	s.buf = append(s.buf, data...)
	s.parts++
	if p.Marker {
		s.emit(now)
	}
}

func (s *depack) clockRate() int {
	if s.codec.Kind() == media.KindAudio {
		return s.rate
	}
	return 90000
}

// emit hands over the frame assembled so far, unless it is damaged.
func (s *depack) emit(now time.Time) {
	buf, broken := s.buf, s.broken
	s.buf, s.parts, s.broken = nil, 0, false
	if broken || len(buf) == 0 {
		s.d.keyframe(s.codec)
		return
	}
	f := &media.Frame{PTS: s.pts, DTS: s.pts, Wall: now, Key: true, Data: [][]byte{buf}}
	switch s.codec {
	case media.CodecH264:
		nalus, err := h264.SplitAnnexB(buf)
		if err != nil || len(nalus) == 0 {
			return
		}
		f.Data, f.Key = nalus, h264.IsKeyframe(nalus)
		if f.Key {
			for _, n := range nalus {
				if h264.Type(n) == h264.NALUTypeSPS {
					if sps, err := h264.ParseSPS(n); err == nil {
						s.announce(sps.Width, sps.Height)
					}
				}
			}
		}
	case media.CodecVP8:
		f.Key = vp8.IsKeyframe(buf)
		if w, h, err := vp8.ParseKeyframeSize(buf); err == nil {
			s.announce(w, h)
		}
	case media.CodecVP9:
		f.Key = s.vp9Key
		if f.Key {
			s.announce(s.vp9W, s.vp9H)
		}
	case media.CodecOpus, media.CodecPCMA, media.CodecPCMU:
		s.announce(0, 0)
	}
	if !s.sent {
		s.d.keyframe(s.codec) // no track before the first keyframe
		return
	}
	f.Track = s.track
	if err := s.d.Publisher.Frame(f); err != nil {
		s.d.Logger.Debugw("WHIP frame", "error", err.Error())
	}
}

// announce publishes the track (again when the video size changes).
func (s *depack) announce(w, h int) {
	if s.codec.Kind() == media.KindAudio {
		if s.sent {
			return
		}
	} else {
		if s.sent && s.track.Width == w && s.track.Height == h {
			return
		}
		s.track = &media.Track{Kind: media.KindVideo, Codec: s.codec, ClockRate: 90000, Width: w, Height: h}
	}
	if err := s.d.Publisher.Track(s.track); err != nil {
		s.d.Logger.Debugw("WHIP track", "error", err.Error())
		return
	}
	s.sent = true
}

func (d *Depacketizer) keyframe(c media.CodecID) {
	if c.Kind() == media.KindVideo && d.request != nil {
		d.request(0)
	}
}
