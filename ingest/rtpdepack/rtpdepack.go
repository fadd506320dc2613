// Package rtpdepack turns the RTP packets of one track into media frames,
// for every input that receives RTP: WHIP (WebRTC) and RTSP pulls.
//
// The payload formats are gortsplib's (format.Format, parsed from the SDP
// by ParseFormat or by gortsplib's RTSP client) and so are their decoders
// (rtph264, rtph265, rtpvp8, rtpvp9, rtpav1, rtpmpeg4audio, rtpfragmented
// for LATM, rtplpcm for G.711 and L8/L16/L24, rtpsimpleaudio for Opus);
// the timeline is gortsplib's rtptime.GlobalDecoder2 (Timeline). Our own code
// is what these lack:
//
//   - loss: the decoders see only the packets they are given, and most of
//     them join the fragments around a missing packet that did not carry
//     a fragment (a frame whose last packet is lost runs into the next
//     one). A gap in the sequence numbers therefore resets the decoder,
//     drops the frame being assembled and asks the sender for a keyframe
//     (a WebRTC PLI), dropping the video until it comes when there is a
//     way to ask; a late or repeated packet is dropped (reordering is not
//     undone: gortsplib's RTSP client reorders UDP packets itself, and a
//     WebRTC sender retransmits nothing Tributary does not NACK).
//   - keyframes and track descriptions: a video track is announced from
//     its parameter sets (H.264, H.265), its keyframe header (VP8, VP9) or
//     its sequence header (AV1), again when they change, and no frame is
//     handed over before the first keyframe.
//   - decoding times of H.264 and H.265 (mediacommon's DTS extractors),
//     and the AAC frames of LATM (codec/aac).
//
// Bounds: the decoders' own (mediacommon): an H.264 or H.265 access unit
// of at most 8 MiB and 25 (H.265: 21) NAL units, a VP8 or VP9 frame of 2
// MiB (and a VP9 picture of spatial layers: 8 frames, 2 MiB in all), an
// AV1 temporal unit of 3 MiB and 10 OBUs, an AAC access unit of
// 5 KiB, a fragmented LATM element of 1 MiB, uncompressed audio of at
// most 192 kHz and pcm.MaxChannels. A frame over a bound is dropped like
// a lost one.
//
// Specification: RFC 3550 (RTP), RFC 6184 (H.264), RFC 7798 (H.265),
// RFC 7741 (VP8), RFC 9628 (VP9), AV1 RTP payload format (AOM), RFC 3640
// and RFC 6416 (MPEG-4 audio), RFC 7587 (Opus), RFC 3551 (G.711, L8,
// L16), RFC 3190 (L24).
package rtpdepack

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpav1"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpfragmented"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpvp8"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpvp9"
	"github.com/bluenviron/gortsplib/v4/pkg/rtptime"
	"github.com/pion/rtp"
	psdp "github.com/pion/sdp/v3"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/media"
)

// ErrUnsupported is wrapped by the error of New for a payload format that
// no frame can be made of (and by ParseFormat for one it cannot read). It
// matches demux.ErrUnsupportedCodec.
var ErrUnsupported = demux.Reason("unsupported RTP payload format", demux.ErrUnsupportedCodec)

// Sink receives the track and frames of a depacketized stream, on the
// goroutine that calls TrackDepacketizer.Write.
type Sink interface {
	Track(t *media.Track) error
	Frame(f *media.Frame) error
}

// Timeline puts the RTP timestamps of the tracks of one session on one
// timeline: each track's timestamps unwrapped (32-bit wrap-around) in its
// own clock rate, starting where the first track is when its first
// packet arrives. It is safe for concurrent use by the session's tracks.
type Timeline struct {
	d rtptime.GlobalDecoder2
}

// NewClock returns a Timeline for one session.
func NewClock() *Timeline {
	c := &Timeline{}
	c.d.Initialize()
	return c
}

// Config describes one track.
type Config struct {
	// Format is the payload format (from the SDP).
	Format format.Format
	// ID is media.Track.ID of the announced tracks.
	ID int
	// Timeline is shared by the tracks of a session; nil gives the track
	// its own.
	Clock *Timeline
	// RequestKeyframe asks the sender for a keyframe (a WebRTC PLI) after
	// a loss or before the first keyframe; it must not block and may be
	// called often (the caller paces the requests). Nil when the
	// transport has no way to ask.
	RequestKeyframe func()
}

// decoder turns packets into units: the NAL units of an access unit, the
// OBUs of an AV1 temporal unit, a VP8 or VP9 frame, the AAC frames of a
// packet, an Opus packet or the samples of a G.711 or PCM packet.
type decoder interface {
	Decode(pkt *rtp.Packet) ([][]byte, error)
}

// TrackDepacketizer depacketizes one track. Write runs on one goroutine at a time.
type TrackDepacketizer struct {
	conf  Config
	kind  media.Kind
	codec media.CodecID
	// newDec makes the payload decoder, again after a loss (a fresh one
	// holds no fragment of the damaged frame).
	newDec func() (decoder, error)
	dec    decoder
	// flushesOnTS is true for the decoders (H.264, H.265) that return the
	// unit being assembled when a packet of a new timestamp arrives
	// without the marker bit having ended it: that unit has the time of
	// the packets before (bufPTS).
	flushesOnTS bool
	buffering   bool
	bufTS       uint32
	bufPTS      int64

	started bool
	lastSeq uint16
	// waitKey drops video frames after a loss until a keyframe, when the
	// sender can be asked for one (RequestKeyframe set): frames that
	// refer to a lost one are refused by libdav1d (AV1), which fails the
	// transcoder; a sender that cannot be asked (RTSP) is not waited for
	// (libavcodec conceals the damage in H.264 and H.265 until the next
	// random-access unit).
	waitKey bool

	video *videoState
	audio *audioState
}

// maxReorder is how far back a sequence number may be and still count as
// a late (reordered or repeated) packet, dropped; further back the sender
// is taken to have restarted its numbering.
const maxReorder = 64

// New returns the depacketizer of a format, or an error wrapping
// ErrUnsupported (a codec no frame is made of) or naming the invalid
// parameter.
func New(c Config) (*TrackDepacketizer, error) {
	if c.Clock == nil {
		c.Clock = NewClock()
	}
	t := &TrackDepacketizer{conf: c}
	var err error
	switch c.Format.(type) {
	case *format.H264, *format.H265, *format.VP8, *format.VP9, *format.AV1:
		err = t.initVideo()
	default:
		err = t.initAudio()
	}
	if err != nil {
		return nil, err
	}
	if t.dec, err = t.newDec(); err != nil {
		return nil, fmt.Errorf("%s decoder: %w", c.Format.Codec(), err)
	}
	return t, nil
}

// Kind returns the kind of the track.
func (t *TrackDepacketizer) Kind() media.Kind { return t.kind }

// Codec returns the codec of the frames.
func (t *TrackDepacketizer) Codec() media.CodecID { return t.codec }

// Format returns the payload format.
func (t *TrackDepacketizer) Format() format.Format { return t.conf.Format }

// Write depacketizes one packet and hands what it completes to sink. It
// returns the errors of the sink, and of a track that cannot be
// described (a parameter set that does not parse); a lost, late, damaged
// or oversized packet is dropped, as RTP must expect.
func (t *TrackDepacketizer) Write(pkt *rtp.Packet, sink Sink) error {
	if !t.started {
		t.started = true
		t.lastSeq = pkt.SequenceNumber - 1
	}
	switch d := int16(pkt.SequenceNumber - t.lastSeq); {
	case d == 1:
	case d <= 0 && d > -maxReorder:
		return nil // late or repeated: its frame was dropped already
	default:
		t.lost()
	}
	t.lastSeq = pkt.SequenceNumber
	if len(pkt.Payload) == 0 {
		return nil // padding (bandwidth probes)
	}
	pts, ok := t.conf.Clock.d.Decode(t.conf.Format, pkt)
	if !ok {
		// A track's time starts at a packet whose PTS is its DTS (H.264:
		// a keyframe or parameter sets).
		t.wantKeyframe()
		return nil
	}
	tsChanged := t.buffering && pkt.Timestamp != t.bufTS
	unitPTS := pts
	if tsChanged && t.flushesOnTS {
		unitPTS = t.bufPTS
	}
	if t.codec == media.CodecVP9 {
		t.vp9Structure(pkt)
	}
	units, err := t.dec.Decode(pkt)
	switch {
	case err == nil && tsChanged && t.flushesOnTS:
		// The previous unit, ended by this packet's new timestamp; this
		// packet starts the next one.
		t.buffering, t.bufTS, t.bufPTS = true, pkt.Timestamp, pts
	case err == nil:
		t.buffering = false
	case morePackets(err):
		if !t.buffering || tsChanged {
			t.buffering, t.bufTS, t.bufPTS = true, pkt.Timestamp, pts
		}
		return nil
	default:
		// Damaged or over a bound: the decoder dropped what it held.
		t.buffering = false
		t.damaged()
		return nil
	}
	if len(units) == 0 || len(units[0]) == 0 {
		return nil // an empty frame (a VP8 or VP9 payload descriptor alone)
	}
	switch {
	case t.kind == media.KindAudio:
		return t.audioUnits(units, unitPTS, sink)
	case t.codec == media.CodecVP9:
		return t.vp9Frame(units[0], pkt.Timestamp, unitPTS, pkt.Marker, sink)
	}
	return t.videoUnit(units, unitPTS, sink)
}

// lost resets the decoder after a gap in the sequence numbers: the frame
// being assembled misses a packet.
func (t *TrackDepacketizer) lost() {
	if dec, err := t.newDec(); err == nil {
		t.dec = dec
	}
	t.buffering = false
	t.damaged()
}

// damaged notes that a video frame was lost: the sender is asked for a
// keyframe, and waited for when it can be asked.
func (t *TrackDepacketizer) damaged() {
	if t.video != nil {
		t.video.vp9 = nil // a VP9 picture missing a layer, or a layer's packet
	}
	if t.kind == media.KindVideo && t.conf.RequestKeyframe != nil {
		t.waitKey = true
	}
	t.wantKeyframe()
}

// wantKeyframe asks a video sender for a keyframe.
func (t *TrackDepacketizer) wantKeyframe() {
	if t.kind == media.KindVideo && t.conf.RequestKeyframe != nil {
		t.conf.RequestKeyframe()
	}
}

func morePackets(err error) bool {
	for _, e := range []error{rtph264.ErrMorePacketsNeeded, rtph265.ErrMorePacketsNeeded,
		rtpvp8.ErrMorePacketsNeeded, rtpvp9.ErrMorePacketsNeeded, rtpav1.ErrMorePacketsNeeded,
		rtpmpeg4audio.ErrMorePacketsNeeded, rtpfragmented.ErrMorePacketsNeeded} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ParseFormat returns the payload format of an SDP's rtpmap and fmtp
// values (a WebRTC negotiation's): mediaType "video" or "audio", encoding
// as in a MIME type ("H264", "opus"), channels 0 for the default.
func ParseFormat(mediaType string, payloadType uint8, encoding string, clockRate, channels int, fmtp string) (format.Format, error) {
	// gortsplib knows the dynamic formats in 96–127 only; browsers also
	// number them from 35 (Chrome: AV1 45, H.264 39). The number plays no
	// part in depacketizing: a dynamic one is read as 96.
	if payloadType >= 35 {
		payloadType = 96
	}
	pt := strconv.Itoa(int(payloadType))
	rtpmap := pt + " " + encoding + "/" + strconv.Itoa(clockRate)
	if channels > 0 {
		rtpmap += "/" + strconv.Itoa(channels)
	}
	md := &psdp.MediaDescription{
		MediaName:  psdp.MediaName{Media: mediaType, Protos: []string{"RTP", "AVP"}, Formats: []string{pt}},
		Attributes: []psdp.Attribute{{Key: "rtpmap", Value: rtpmap}},
	}
	if fmtp = strings.TrimSpace(fmtp); fmtp != "" {
		md.Attributes = append(md.Attributes, psdp.Attribute{Key: "fmtp", Value: pt + " " + fmtp})
	}
	f, err := format.Unmarshal(md, pt)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnsupported, mediaType, rtpmap, err)
	}
	switch f := f.(type) {
	case *format.G711:
		// gortsplib takes the law of the static payload types 0 and 8
		// from the number; the name the sender gave it is what it sends.
		f.MULaw = strings.EqualFold(encoding, "PCMU")
	case *format.Opus:
		// WebRTC's Opus is always "opus/48000/2" (RFC 7587 section 7),
		// and a sender may switch to stereo at any packet: gortsplib
		// counts one channel unless the fmtp says stereo, a decoder
		// configured so would downmix.
		f.ChannelCount = max(f.ChannelCount, channels)
	}
	return f, nil
}
