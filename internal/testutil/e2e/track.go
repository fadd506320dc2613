package e2e

import (
	"crypto/sha1"
	"errors"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// RateWindow is the sliding window over which [TrackStats] measures frame
// rate and bitrate: frames that arrived more than RateWindow ago are
// forgotten, so the rates follow changes (a layer switch, a stall).
const RateWindow = 3 * time.Second

// TrackStats is what a [Subscriber] measured on one subscribed track. It is
// a snapshot: later packets do not change it.
type TrackStats struct {
	// ParticipantIdentity is the identity of the publisher.
	ParticipantIdentity string
	// TrackSID is the server-assigned track id.
	TrackSID string
	// TrackName is the name the publisher gave the track.
	TrackName string
	// Kind is webrtc.RTPCodecTypeVideo or webrtc.RTPCodecTypeAudio.
	Kind webrtc.RTPCodecType
	// Source is the track source advertised by the publisher.
	Source livekit.TrackSource

	// MimeType is the codec negotiated for the subscription, e.g.
	// "video/H264" or "audio/opus".
	MimeType string
	// ClockRate is the RTP clock rate of the codec.
	ClockRate uint32
	// SSRC is the SSRC of the stream the server sends to this subscriber.
	SSRC uint32

	// Simulcast reports whether the publisher declared the track simulcast.
	Simulcast bool
	// Layers are the simulcast layers advertised in the TrackInfo (not
	// measured: see Width and Height for what arrived).
	Layers []*livekit.VideoLayer
	// AdvertisedWidth and AdvertisedHeight are the TrackInfo dimensions.
	AdvertisedWidth, AdvertisedHeight uint32

	// Width and Height are parsed from the bitstream: the last H.264 SPS or
	// VP8 keyframe header received. They are 0 until one arrived, and for
	// codecs whose headers are not parsed (audio, H.265, VP9, AV1).
	Width, Height int

	// Packets counts RTP packets carrying payload (padding-only packets,
	// which the SFU sends to probe bandwidth, are in PaddingPackets).
	Packets uint64
	// PaddingPackets counts RTP packets without payload.
	PaddingPackets uint64
	// Bytes counts RTP payload bytes, headers and padding excluded.
	Bytes uint64
	// LostPackets counts sequence numbers skipped in the stream.
	LostPackets uint64
	// DepacketizeErrors counts payloads the codec depacketizer rejected.
	DepacketizeErrors uint64

	// Frames counts distinct RTP timestamps carrying payload: video frames
	// (and, for H.264, parameter sets a sender stamped on their own), or
	// audio packets.
	Frames uint64
	// Pictures counts frames carrying a coded picture. For H.264 that is a
	// timestamp with a VCL NAL unit (slice); for other codecs it equals
	// Frames.
	Pictures uint64
	// Keyframes counts frames holding an H.264 IDR slice or a VP8 keyframe.
	Keyframes uint64

	// FirstPacket and LastPacket are the wall-clock arrival times of the
	// first and last payload packets.
	FirstPacket, LastPacket time.Time

	// FPS is the rate of Frames over Window, in frames per second of wall
	// time.
	FPS float64
	// PictureFPS is the rate of Pictures over Window.
	PictureFPS float64
	// ByteRate is the payload rate over Window, in bytes per second.
	ByteRate float64
	// Bitrate is ByteRate in bits per second.
	Bitrate float64
	// Window is the wall time between the first and last frame the rates
	// were measured over (at most RateWindow). Rates are 0 until at least
	// two frames arrived.
	Window time.Duration

	// Ended reports that the track stopped (unsubscribed, unpublished or
	// subscriber closed).
	Ended bool
}

// frameSample is one frame kept in the rate window.
type frameSample struct {
	arrival time.Time
	bytes   int
	picture bool
}

// trackRecorder measures one incoming RTP stream. It is not safe for
// concurrent use: the Subscriber serializes access with its mutex.
type trackRecorder struct {
	stats TrackStats // identity fields and counters; rates are computed on snapshot

	h264Depack *codecs.H264Packet // nil unless the codec is H.264
	isVP8      bool

	haveSeq bool
	lastSeq uint16
	// afterReset is set when the depacketizer was reset. If the next
	// packet is an FU-A fragment other than a start, pion's depacketizer
	// emits the rest of that NAL unit as if it were whole: truncFUA marks
	// that run so the truncated NAL unit is counted but not hashed.
	afterReset, truncFUA bool
	// late is set while handling a duplicate or reordered packet.
	late bool

	haveTS     bool
	lastTS     uint32
	curPicture bool // the current frame already counted as a picture
	curKey     bool // the current frame already counted as a keyframe

	window []frameSample // oldest first

	// slices holds the SHA-1 of every H.264 slice NAL unit received (at
	// most maxSliceHashes), so a test can tell forwarded source bytes from
	// a re-encode.
	slices map[[sha1.Size]byte]struct{}

	// sliceArrivals holds, for each hash in slices, the wall-clock arrival
	// of the packet that completed the first copy of that slice (see
	// probe.go).
	sliceArrivals map[[sha1.Size]byte]time.Time
	// arrival is the arrival time of the packet being handled.
	arrival time.Time
	// capture, when set, keeps a copy of every packet (see probe.go).
	capture *packetCapture
	// senderReports are the RTCP sender reports received for the stream
	// (see probe.go).
	senderReports []SenderReport
	// timeline has every picture of a video track, every frame of an
	// audio track (see timeline.go).
	timeline timeline
}

// maxSliceHashes bounds the memory of slice hashes (about 2 min at 30 fps).
const maxSliceHashes = 4096

// newTrackRecorder returns a recorder for a stream of the given codec.
func newTrackRecorder(base TrackStats) *trackRecorder {
	r := &trackRecorder{stats: base, slices: map[[sha1.Size]byte]struct{}{}, sliceArrivals: map[[sha1.Size]byte]time.Time{}}
	switch {
	case strings.EqualFold(base.MimeType, webrtc.MimeTypeH264):
		r.h264Depack = &codecs.H264Packet{IsAVC: true}
	case strings.EqualFold(base.MimeType, webrtc.MimeTypeVP8):
		r.isVP8 = true
	}
	return r
}

// handle accounts one RTP packet that arrived at now. It reports whether
// the packet started a new frame.
func (r *trackRecorder) handle(pkt *rtp.Packet, now time.Time) bool {
	// Padding-only packets take sequence numbers too.
	r.checkSequence(pkt.SequenceNumber)
	r.arrival = now
	r.capture.add(pkt, now)
	if len(pkt.Payload) == 0 {
		r.stats.PaddingPackets++
		return false
	}
	r.stats.Packets++
	r.stats.Bytes += uint64(len(pkt.Payload))
	if r.stats.FirstPacket.IsZero() {
		r.stats.FirstPacket = now
	}
	r.stats.LastPacket = now

	newFrame := !r.haveTS || int32(pkt.Timestamp-r.lastTS) > 0
	if newFrame {
		r.haveTS = true
		r.lastTS = pkt.Timestamp
		r.curPicture = false
		r.curKey = false
		r.stats.Frames++
		r.window = append(r.window, frameSample{arrival: now})
		r.pruneWindow(now)
		if strings.HasPrefix(strings.ToLower(r.stats.MimeType), "audio/") {
			// Audio frames go on the timeline too: when each left the
			// SFU shows bursts a listener would hear.
			r.timeline.add(pkt.Timestamp, now, 0, 0, false, false)
		}
	}
	r.window[len(r.window)-1].bytes += len(pkt.Payload)

	if r.late && r.h264Depack != nil {
		// A late H.264 packet (a retransmission, a reordered packet) would
		// be glued to whatever NAL unit is being reassembled now.
		return newFrame
	}
	picture, key := r.parsePayload(pkt)
	if picture && !r.curPicture {
		r.curPicture = true
		r.stats.Pictures++
		r.window[len(r.window)-1].picture = true
		r.timeline.add(pkt.Timestamp, now, r.stats.Width, r.stats.Height, key, false)
	} else if picture {
		// A later packet of the picture (its SPS came first, or the
		// keyframe header): the resolution in force is known now.
		r.timeline.add(pkt.Timestamp, now, r.stats.Width, r.stats.Height, key, true)
	}
	if key && !r.curKey {
		r.curKey = true
		r.stats.Keyframes++
	}
	return newFrame
}

// checkSequence counts lost packets and resets the depacketizer on any
// discontinuity, so that a lost FU-A fragment does not glue two NAL units.
func (r *trackRecorder) checkSequence(seq uint16) {
	r.late = false
	if r.haveSeq {
		diff := int16(seq - r.lastSeq)
		switch {
		case diff <= 0: // duplicate or reordered: keep lastSeq
			r.resetDepacketizer()
			r.late = true
			return
		case diff > 1:
			r.stats.LostPackets += uint64(diff - 1)
			r.resetDepacketizer()
		}
	}
	r.haveSeq = true
	r.lastSeq = seq
}

// resetDepacketizer drops any partially reassembled NAL unit.
func (r *trackRecorder) resetDepacketizer() {
	if r.h264Depack != nil {
		r.h264Depack = &codecs.H264Packet{IsAVC: true}
		r.afterReset = true
	}
}

// fuaNALUType is the RTP payload type of an H.264 fragmentation unit
// (FU-A, RFC 6184 §5.8).
const fuaNALUType = 28

// parsePayload inspects the codec payload: it updates the bitstream
// resolution and reports whether the packet carries (part of) a coded
// picture and whether that picture is a keyframe.
func (r *trackRecorder) parsePayload(pkt *rtp.Packet) (picture, key bool) {
	switch {
	case r.h264Depack != nil:
		return r.parseH264(pkt.Payload)
	case r.isVP8:
		return r.parseVP8(pkt.Payload)
	default:
		return true, false
	}
}

// parseH264 depacketizes an H.264 RTP payload (RFC 6184).
func (r *trackRecorder) parseH264(payload []byte) (picture, key bool) {
	truncated := false
	if len(payload) >= 2 && payload[0]&0x1f == fuaNALUType {
		if payload[1]&0x80 != 0 { // start fragment
			r.truncFUA = false
		} else if r.afterReset {
			r.truncFUA = true
		}
		truncated = r.truncFUA
	}
	r.afterReset = false
	out, err := r.h264Depack.Unmarshal(payload)
	if err != nil {
		r.stats.DepacketizeErrors++
		r.resetDepacketizer()
		return false, false
	}
	if len(out) == 0 { // middle of a fragmented NAL unit
		return false, false
	}
	var au h264.AVCC
	if err = au.Unmarshal(out); err != nil {
		r.stats.DepacketizeErrors++
		return false, false
	}
	for _, nalu := range au {
		switch typ := h264.NALUType(nalu[0] & 0x1f); {
		case typ == h264.NALUTypeSPS && !truncated:
			if w, h, perr := parseH264SPSSize(nalu); perr == nil {
				r.stats.Width, r.stats.Height = w, h
			} else {
				r.stats.DepacketizeErrors++
			}
		case typ == h264.NALUTypeIDR:
			picture, key = true, true
		case typ >= h264.NALUTypeNonIDR && typ < h264.NALUTypeIDR:
			picture = true
		}
		if typ := h264.NALUType(nalu[0] & 0x1f); typ >= h264.NALUTypeNonIDR && typ <= h264.NALUTypeIDR && !truncated && len(r.slices) < maxSliceHashes {
			sum := sha1.Sum(nalu)
			if _, seen := r.slices[sum]; !seen {
				r.sliceArrivals[sum] = r.arrival
			}
			r.slices[sum] = struct{}{}
		}
	}
	return picture, key
}

// parseVP8 reads the VP8 payload descriptor (RFC 7741) and, on the first
// packet of a frame, the frame header.
func (r *trackRecorder) parseVP8(payload []byte) (picture, key bool) {
	var vp8 codecs.VP8Packet
	frame, err := vp8.Unmarshal(payload)
	if err != nil {
		r.stats.DepacketizeErrors++
		return false, false
	}
	if vp8.S != 1 || vp8.PID != 0 {
		return true, false
	}
	w, h, err := parseVP8KeyframeSize(frame)
	switch {
	case err == nil:
		r.stats.Width, r.stats.Height = w, h
		return true, true
	case errors.Is(err, errNotVP8Keyframe):
		return true, false
	default:
		r.stats.DepacketizeErrors++
		return true, false
	}
}

// pruneWindow forgets frames that arrived more than RateWindow before now.
func (r *trackRecorder) pruneWindow(now time.Time) {
	cut := 0
	for cut < len(r.window) && now.Sub(r.window[cut].arrival) > RateWindow {
		cut++
	}
	if cut > 0 {
		r.window = append(r.window[:0], r.window[cut:]...)
	}
}

// snapshot returns the counters with the rates measured over the frames
// that arrived within RateWindow before now.
func (r *trackRecorder) snapshot(now time.Time) TrackStats {
	r.pruneWindow(now)
	s := r.stats
	s.Layers = nil // filled by the Subscriber from the live TrackInfo
	if len(r.window) < 2 {
		return s
	}
	first, last := r.window[0], r.window[len(r.window)-1]
	span := last.arrival.Sub(first.arrival)
	if span <= 0 {
		return s
	}
	s.Window = span
	sec := span.Seconds()
	s.FPS = float64(len(r.window)-1) / sec
	// The bytes of the first frame arrived at or before the window start:
	// count what arrived after it.
	var bytes int
	var pictures []time.Time
	for i, f := range r.window {
		if i > 0 {
			bytes += f.bytes
		}
		if f.picture {
			pictures = append(pictures, f.arrival)
		}
	}
	s.ByteRate = float64(bytes) / sec
	s.Bitrate = 8 * s.ByteRate
	if n := len(pictures); n >= 2 {
		if ps := pictures[n-1].Sub(pictures[0]); ps > 0 {
			s.PictureFPS = float64(n-1) / ps.Seconds()
		}
	}
	return s
}
