package room

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/atomic"

	"github.com/tributary-ingress/tributary/media"
)

// VideoLayer is one published layer of the video track.
type VideoLayer struct {
	Quality livekit.VideoQuality
	Width   uint32
	Height  uint32
	Bitrate uint32
}

// VideoSpec describes the video track to publish.
type VideoSpec struct {
	Codec media.CodecID // H264, VP8, VP9, AV1, H265
	// Layers, low to high. One layer publishes a plain track; two or three
	// publish one simulcast track (RIDs q/h/f by quality).
	Layers []VideoLayer
	// Name and Source are the track's, as the ingress's video options set
	// them; "video" and CAMERA when empty.
	Name   string
	Source livekit.TrackSource
	// OnKeyframeRequest is called with the layer index when a subscriber
	// asks for a keyframe (PLI/FIR). It must not block.
	OnKeyframeRequest func(layer int)
}

// AudioSpec describes the Opus track to publish.
type AudioSpec struct {
	Channels   int // 1 or 2
	DisableDTX bool
	// Name and Source are the track's, as the ingress's audio options set
	// them; "audio" and MICROPHONE when empty.
	Name   string
	Source livekit.TrackSource
}

// Default track names, for ingresses whose options name none.
const (
	DefaultVideoName = "video"
	DefaultAudioName = "audio"
)

// trackOptions returns the publication options of a track named name
// from source, with the defaults for what is unset.
func trackOptions(name, defName string, source, defSource livekit.TrackSource) *lksdk.TrackPublicationOptions {
	if name == "" {
		name = defName
	}
	if source == livekit.TrackSource_UNKNOWN {
		source = defSource
	}
	return &lksdk.TrackPublicationOptions{Name: name, Source: source}
}

// VideoTrack is the published video track.
type VideoTrack struct {
	pub    *lksdk.LocalTrackPublication
	layers []*lksdk.LocalTrack
	codec  media.CodecID
	rtp    []rtpClock
	// pkt packetizes H.264 and VP8 frames per layer (nil for the codecs
	// left to the SDK's sample writer).
	pkt []*packetizer
	// disabled are the SDK's per-layer dynacast flags (see LayerEnabled).
	disabled []*atomic.Bool
}

// AudioTrack is the published Opus track.
type AudioTrack struct {
	pub   *lksdk.LocalTrackPublication
	track *lksdk.LocalTrack
	rtp   rtpClock
	// level and opts carry a frame's audio level to the SDK, which writes
	// it as the RFC 6464 header extension LiveKit's active-speaker
	// detection reads; reused by the one writer goroutine.
	level uint8
	opts  lksdk.SampleWriteOptions
}

// rtpClock turns PTS into RTP timestamps: a random base plus the PTS
// rescaled to the RTP clock. Deriving every timestamp from PTS, instead of
// accumulating durations, keeps audio and video locked to one timeline.
//
// A clock is used by one writer goroutine (its layer's or track's).
type rtpClock struct {
	base  uint32
	rate  int
	last  int64 // last PTS in RTP ticks, for the sample duration
	valid bool
}

func newRTPClock(rate int) rtpClock {
	// A random start, as RFC 3550 asks.
	return rtpClock{base: rand.Uint32(), rate: rate}
}

// stamp returns the RTP timestamp of a PTS (in clockRate ticks) and the
// duration since the previous sample.
func (c *rtpClock) stamp(pts int64, clockRate int) (uint32, time.Duration) {
	ticks := media.Rescale(pts, clockRate, c.rate)
	var d time.Duration
	if c.valid {
		d = media.Duration(ticks-c.last, c.rate)
	}
	c.last, c.valid = ticks, true
	ts := c.base + uint32(ticks)
	if ts == 0 {
		ts = 1
	}
	return ts, d
}

var rids = map[livekit.VideoQuality]bool{livekit.VideoQuality_LOW: true, livekit.VideoQuality_MEDIUM: true, livekit.VideoQuality_HIGH: true}

func videoCapability(c media.CodecID) (webrtc.RTPCodecCapability, error) {
	switch c {
	case media.CodecH264:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, nil
	case media.CodecVP8:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, nil
	case media.CodecVP9:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000}, nil
	case media.CodecAV1:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}, nil
	case media.CodecH265:
		return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH265, ClockRate: 90000}, nil
	}
	return webrtc.RTPCodecCapability{}, fmt.Errorf("cannot publish video codec %s into a room", c)
}

// PublishVideo publishes the video track.
func (r *Room) PublishVideo(spec VideoSpec) (*VideoTrack, error) {
	if len(spec.Layers) == 0 || len(spec.Layers) > 3 {
		return nil, fmt.Errorf("publish video: %d layers (want 1 to 3)", len(spec.Layers))
	}
	capab, err := videoCapability(spec.Codec)
	if err != nil {
		return nil, err
	}
	top := spec.Layers[len(spec.Layers)-1]
	opts := trackOptions(spec.Name, DefaultVideoName, spec.Source, livekit.TrackSource_CAMERA)
	opts.VideoWidth, opts.VideoHeight = int(top.Width), int(top.Height)
	vt := &VideoTrack{codec: spec.Codec}
	simulcastID := guid.New(guid.TrackPrefix)
	for i, l := range spec.Layers {
		var lopts []lksdk.LocalTrackOptions
		if cb := spec.OnKeyframeRequest; cb != nil {
			idx := i
			lopts = append(lopts, lksdk.WithRTCPHandler(func(p rtcp.Packet) {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					cb(idx)
				}
			}))
		}
		if len(spec.Layers) > 1 {
			if !rids[l.Quality] {
				return nil, fmt.Errorf("publish video: layer %d has quality %s", i, l.Quality)
			}
			lopts = append(lopts, lksdk.WithSimulcast(simulcastID, &livekit.VideoLayer{
				Quality: l.Quality, Width: l.Width, Height: l.Height, Bitrate: l.Bitrate,
			}))
		}
		t, err := lksdk.NewLocalTrack(capab, lopts...)
		if err != nil {
			return nil, fmt.Errorf("publish video: %w", err)
		}
		vt.layers = append(vt.layers, t)
		vt.disabled = append(vt.disabled, layerFlag(t))
		vt.rtp = append(vt.rtp, newRTPClock(90000))
		var pk *packetizer
		if spec.Codec == media.CodecH264 || spec.Codec == media.CodecVP8 {
			pk = newPacketizer(rtpPayloadMTU, func(p *rtp.Packet) error { return t.WriteRTP(p, nil) })
		}
		vt.pkt = append(vt.pkt, pk)
	}
	if len(vt.layers) == 1 {
		vt.pub, err = r.room.LocalParticipant.PublishTrack(vt.layers[0], opts)
	} else {
		vt.pub, err = r.room.LocalParticipant.PublishSimulcastTrack(vt.layers, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("publish video track: %w", err)
	}
	// All layers share one base so a layer switch keeps the timeline.
	for i := range vt.rtp {
		vt.rtp[i].base = vt.rtp[0].base
	}
	r.log.Infow("published video", "codec", spec.Codec.String(), "layers", len(spec.Layers), "trackSID", vt.pub.SID(),
		"name", opts.Name, "source", opts.Source.String())
	return vt, nil
}

// SID returns the track's ID.
func (vt *VideoTrack) SID() string { return vt.pub.SID() }

// TrackInfo returns what the server knows of the published track.
func (vt *VideoTrack) TrackInfo() *livekit.TrackInfo { return vt.pub.TrackInfo() }

// ErrBadLayer is returned for a layer index the track does not have.
var ErrBadLayer = errors.New("no such video layer")

// WriteFrame sends one encoded access unit on a layer. H.264 and VP8
// frames are packetized here into reused buffers and written with
// LocalTrack.WriteRTP, which adds the simulcast MID/RID header extensions
// itself; the RTP timestamp comes from the frame's PTS. H.265 frames carry
// NAL units, which are written Annex-B for the SDK's packetizer, as are
// VP9 and AV1 frames written whole.
//
// The SDK's sample writer also offers frame encryption (E2EE), which
// tributary does not enable; the packetized path does not support it.
func (vt *VideoTrack) WriteFrame(layer int, f *media.Frame) error {
	if layer < 0 || layer >= len(vt.layers) {
		return ErrBadLayer
	}
	ts, d := vt.rtp[layer].stamp(f.PTS, f.Track.ClockRate)
	if pk := vt.pkt[layer]; pk != nil {
		if !vt.layers[layer].IsBound() {
			return nil // not negotiated yet: the SDK's writer drops samples too
		}
		if vt.codec == media.CodecVP8 {
			return pk.VP8(f.Data, ts)
		}
		return pk.H264(f.Data, ts)
	}
	var data []byte
	switch vt.codec {
	case media.CodecH264, media.CodecH265:
		b, err := h264.AnnexB(f.Data).Marshal()
		if err != nil {
			return fmt.Errorf("video frame: %w", err)
		}
		data = b
	default:
		if len(f.Data) == 1 {
			data = f.Data[0]
		} else {
			for _, d := range f.Data {
				data = append(data, d...)
			}
		}
	}
	return vt.layers[layer].WriteSample(pmedia.Sample{Data: data, Duration: d, PacketTimestamp: ts}, nil)
}

// PublishAudio publishes the Opus track.
func (r *Room) PublishAudio(spec AudioSpec) (*AudioTrack, error) {
	capab := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1"}
	t, err := lksdk.NewLocalTrack(capab)
	if err != nil {
		return nil, fmt.Errorf("publish audio: %w", err)
	}
	opts := trackOptions(spec.Name, DefaultAudioName, spec.Source, livekit.TrackSource_MICROPHONE)
	opts.Stereo, opts.DisableDTX = spec.Channels == 2, spec.DisableDTX
	pub, err := r.room.LocalParticipant.PublishTrack(t, opts)
	if err != nil {
		return nil, fmt.Errorf("publish audio track: %w", err)
	}
	r.log.Infow("published audio", "codec", "Opus", "channels", spec.Channels, "trackSID", pub.SID(),
		"name", opts.Name, "source", opts.Source.String())
	return &AudioTrack{pub: pub, track: t, rtp: newRTPClock(48000)}, nil
}

// SID returns the track's ID.
func (at *AudioTrack) SID() string { return at.pub.SID() }

// TrackInfo returns what the server knows of the published track.
func (at *AudioTrack) TrackInfo() *livekit.TrackInfo { return at.pub.TrackInfo() }

// WriteFrame sends one Opus packet, with its audio level when the frame
// has one.
func (at *AudioTrack) WriteFrame(f *media.Frame) error {
	ts, d := at.rtp.stamp(f.PTS, f.Track.ClockRate)
	var opts *lksdk.SampleWriteOptions
	if f.HasAudioLevel {
		at.level = f.AudioLevel
		at.opts.AudioLevel = &at.level
		opts = &at.opts
	}
	return at.track.WriteSample(pmedia.Sample{Data: f.Data[0], Duration: d, PacketTimestamp: ts}, opts)
}
