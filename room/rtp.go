package room

import (
	"fmt"
	"strings"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// RTPVideoSpec describes a video track whose RTP packets are forwarded as
// they arrive (WebRTC passthrough), without depacketizing.
type RTPVideoSpec struct {
	// Codec is the codec the source negotiated: MimeType, ClockRate and
	// SDPFmtpLine (for H.264 the profile-level-id subscribers must decode).
	Codec webrtc.RTPCodecCapability
	// Layers in the caller's own order (for WHIP: offer order, highest
	// first). One layer publishes a plain track; two or three publish one
	// simulcast track, each layer carrying its Quality (RID f/h/q).
	Layers []VideoLayer
	// Name and Source are the track's, as the ingress's video options set
	// them; "video" and CAMERA when empty.
	Name   string
	Source livekit.TrackSource
	// OnKeyframeRequest is called with the caller's layer index when a
	// subscriber asks for a keyframe (PLI/FIR). It must not block.
	OnKeyframeRequest func(layer int)
}

// RTPVideoTrack is a published video track fed with RTP packets.
type RTPVideoTrack struct {
	pub    *lksdk.LocalTrackPublication
	layers []*lksdk.LocalTrack
}

// RTPAudioTrack is a published audio track fed with RTP packets.
type RTPAudioTrack struct {
	pub        *lksdk.LocalTrackPublication
	track      *lksdk.LocalTrack
	levelExtID uint8
	level      uint8 // the last packet's level, for opts
	opts       lksdk.SampleWriteOptions
}

// PublishVideoRTP publishes a video track for RTP forwarding.
func (r *Room) PublishVideoRTP(spec RTPVideoSpec) (*RTPVideoTrack, error) {
	if len(spec.Layers) == 0 || len(spec.Layers) > 3 {
		return nil, fmt.Errorf("publish video: %d layers (want 1 to 3)", len(spec.Layers))
	}
	if !strings.HasPrefix(strings.ToLower(spec.Codec.MimeType), "video/") {
		return nil, fmt.Errorf("publish video: %q is not a video codec", spec.Codec.MimeType)
	}
	capab := spec.Codec
	capab.RTCPFeedback = nil // the room's own peer connection negotiates feedback
	top := spec.Layers[0]
	for _, l := range spec.Layers[1:] {
		if l.Width*l.Height > top.Width*top.Height {
			top = l
		}
	}
	opts := trackOptions(spec.Name, DefaultVideoName, spec.Source, livekit.TrackSource_CAMERA)
	opts.VideoWidth, opts.VideoHeight = int(top.Width), int(top.Height)
	vt := &RTPVideoTrack{}
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
	}
	var err error
	if len(vt.layers) == 1 {
		vt.pub, err = r.room.LocalParticipant.PublishTrack(vt.layers[0], opts)
	} else {
		vt.pub, err = r.room.LocalParticipant.PublishSimulcastTrack(vt.layers, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("publish video track: %w", err)
	}
	r.log.Infow("published forwarded video", "codec", capab.MimeType, "fmtp", capab.SDPFmtpLine,
		"layers", len(spec.Layers), "trackSID", vt.pub.SID(), "name", opts.Name, "source", opts.Source.String())
	return vt, nil
}

// SID returns the track's ID.
func (vt *RTPVideoTrack) SID() string { return vt.pub.SID() }

// TrackInfo returns what the server knows of the published track.
func (vt *RTPVideoTrack) TrackInfo() *livekit.TrackInfo { return vt.pub.TrackInfo() }

// WriteRTP forwards one packet on a layer. The packet's SSRC and payload
// type are rewritten to the room's, and its header extensions, whose IDs
// were negotiated with the source and mean nothing to the room, are
// dropped; sequence numbers and timestamps are kept. The packet is
// modified.
func (vt *RTPVideoTrack) WriteRTP(layer int, p *rtp.Packet) error {
	if layer < 0 || layer >= len(vt.layers) {
		return ErrBadLayer
	}
	stripExtensions(p)
	return vt.layers[layer].WriteRTP(p, nil)
}

// RTPAudioSpec describes an audio track whose RTP packets are forwarded.
type RTPAudioSpec struct {
	// Codec is the codec the source negotiated (Opus).
	Codec  webrtc.RTPCodecCapability
	Stereo bool
	// LevelExtID is the ID of the audio-level header extension (RFC 6464)
	// in the packets that will be forwarded, 0 if they have none: the
	// level is passed on, under the ID negotiated with LiveKit.
	LevelExtID uint8
	// Name and Source are the track's, as the ingress's audio options set
	// them; "audio" and MICROPHONE when empty.
	Name   string
	Source livekit.TrackSource
}

// PublishAudioRTP publishes an audio track (Opus) for RTP forwarding.
func (r *Room) PublishAudioRTP(spec RTPAudioSpec) (*RTPAudioTrack, error) {
	codec, stereo, levelExtID := spec.Codec, spec.Stereo, spec.LevelExtID
	if !strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus) {
		return nil, fmt.Errorf("publish audio: cannot forward %s into a room (Opus only)", codec.MimeType)
	}
	codec.RTCPFeedback = nil
	if codec.Channels == 0 {
		codec.Channels = 2
	}
	t, err := lksdk.NewLocalTrack(codec)
	if err != nil {
		return nil, fmt.Errorf("publish audio: %w", err)
	}
	opts := trackOptions(spec.Name, DefaultAudioName, spec.Source, livekit.TrackSource_MICROPHONE)
	opts.Stereo = stereo
	pub, err := r.room.LocalParticipant.PublishTrack(t, opts)
	if err != nil {
		return nil, fmt.Errorf("publish audio track: %w", err)
	}
	r.log.Infow("published forwarded audio", "codec", codec.MimeType, "stereo", stereo, "trackSID", pub.SID(),
		"name", opts.Name, "source", opts.Source.String())
	return &RTPAudioTrack{pub: pub, track: t, levelExtID: levelExtID}, nil
}

// SID returns the track's ID.
func (at *RTPAudioTrack) SID() string { return at.pub.SID() }

// TrackInfo returns what the server knows of the published track.
func (at *RTPAudioTrack) TrackInfo() *livekit.TrackInfo { return at.pub.TrackInfo() }

// WriteRTP forwards one packet, as RTPVideoTrack.WriteRTP does, keeping
// its audio level. It is called from one goroutine.
func (at *RTPAudioTrack) WriteRTP(p *rtp.Packet) error {
	var opts *lksdk.SampleWriteOptions
	if at.levelExtID != 0 {
		if e := p.GetExtension(at.levelExtID); len(e) > 0 {
			at.level = e[0] & 0x7f // RFC 6464: V bit, then the level
			at.opts.AudioLevel = &at.level
			opts = &at.opts
		}
	}
	stripExtensions(p)
	return at.track.WriteRTP(p, opts)
}

func stripExtensions(p *rtp.Packet) {
	p.Extension = false
	p.ExtensionProfile = 0
	p.Extensions = nil
}
