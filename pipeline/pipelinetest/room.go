package pipelinetest

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtp"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/room"
)

// Rooms is a pipeline.Rooms whose rooms are fakes. Set its fields before
// the session starts.
type Rooms struct {
	// JoinErr, when set, is the error of join attempt n (from 1), nil to
	// join.
	JoinErr func(n int) error
	// PublishErr, when set, is the error of every publish.
	PublishErr error
	// OnPublishVideo, when set, is called by PublishVideo and
	// PublishVideoRTP with the track's keyframe request callback before
	// they return, as the SDK's RTCP goroutine may call it as soon as a
	// subscriber sees the track.
	OnPublishVideo func(onKeyframeRequest func(layer int))

	mu      sync.Mutex
	attempt int
	rooms   []*Room
}

// Join implements pipeline.Rooms.
func (rs *Rooms) Join(_ context.Context, c room.Config) (pipeline.RoomConn, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.attempt++
	if rs.JoinErr != nil {
		if err := rs.JoinErr(rs.attempt); err != nil {
			return nil, err
		}
	}
	r := &Room{Config: c, rooms: rs, sid: fmt.Sprintf("RM_%d", len(rs.rooms)+1), disconnected: make(chan struct{}),
		attrs: map[string]string{}}
	rs.rooms = append(rs.rooms, r)
	return r, nil
}

// Attempts returns how many joins were attempted.
func (rs *Rooms) Attempts() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.attempt
}

// Rooms returns the rooms joined, in order.
func (rs *Rooms) Rooms() []*Room {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]*Room(nil), rs.rooms...)
}

// WaitRoom waits until the nth room (from 1) was joined and returns it.
func (rs *Rooms) WaitRoom(t testing.TB, n int) *Room {
	t.Helper()
	Eventually(t, func() bool { return len(rs.Rooms()) >= n }, fmt.Sprintf("room %d was not joined", n))
	return rs.Rooms()[n-1]
}

// Room is a joined fake room.
type Room struct {
	// Config is what the session joined with.
	Config room.Config

	rooms        *Rooms
	sid          string
	disconnected chan struct{}

	mu       sync.Mutex
	reason   livekit.DisconnectReason
	retry    bool
	closed   bool
	attrs    map[string]string
	video    *VideoSink
	audio    *AudioSink
	rtpVideo *RTPVideoSink
	rtpAudio *RTPAudioSink
}

func (r *Room) SID() string                   { return r.sid }
func (r *Room) Disconnected() <-chan struct{} { return r.disconnected }

func (r *Room) DisconnectReason() (livekit.DisconnectReason, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason, r.retry
}

// Disconnect ends the connection for good, as the SDK reports a final
// disconnect: retry says whether the reason allows joining again.
func (r *Room) Disconnect(reason livekit.DisconnectReason, retry bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reason, r.retry = reason, retry
	select {
	case <-r.disconnected:
	default:
		close(r.disconnected)
	}
}

func (r *Room) SetAttributes(a map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	maps.Copy(r.attrs, a)
}

// Attributes returns the participant's attributes.
func (r *Room) Attributes() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.attrs)
}

func (r *Room) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

// Closed reports whether the session left the room.
func (r *Room) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

func (r *Room) publishErr() error {
	if r.rooms.PublishErr != nil {
		return r.rooms.PublishErr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("publish in a room left")
	}
	return nil
}

func (r *Room) onPublishVideo(cb func(int)) {
	if r.rooms.OnPublishVideo != nil && cb != nil {
		r.rooms.OnPublishVideo(cb)
	}
}

func (r *Room) PublishVideo(spec room.VideoSpec) (pipeline.VideoSink, error) {
	if err := r.publishErr(); err != nil {
		return nil, err
	}
	r.onPublishVideo(spec.OnKeyframeRequest)
	v := &VideoSink{Spec: spec, frames: make([][]*media.Frame, len(spec.Layers)), enabled: make([]bool, len(spec.Layers))}
	for i := range v.enabled {
		v.enabled[i] = true
	}
	r.mu.Lock()
	r.video = v
	r.mu.Unlock()
	return v, nil
}

func (r *Room) PublishAudio(spec room.AudioSpec) (pipeline.AudioSink, error) {
	if err := r.publishErr(); err != nil {
		return nil, err
	}
	a := &AudioSink{Spec: spec}
	r.mu.Lock()
	r.audio = a
	r.mu.Unlock()
	return a, nil
}

func (r *Room) PublishVideoRTP(spec room.RTPVideoSpec) (pipeline.RTPVideoSink, error) {
	if err := r.publishErr(); err != nil {
		return nil, err
	}
	r.onPublishVideo(spec.OnKeyframeRequest)
	v := &RTPVideoSink{Spec: spec, packets: make([][]*rtp.Packet, len(spec.Layers))}
	r.mu.Lock()
	r.rtpVideo = v
	r.mu.Unlock()
	return v, nil
}

func (r *Room) PublishAudioRTP(spec room.RTPAudioSpec) (pipeline.RTPAudioSink, error) {
	if err := r.publishErr(); err != nil {
		return nil, err
	}
	a := &RTPAudioSink{Spec: spec}
	r.mu.Lock()
	r.rtpAudio = a
	r.mu.Unlock()
	return a, nil
}

// Video returns the video track published with frames, nil if none.
func (r *Room) Video() *VideoSink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.video
}

// Audio returns the audio track published with frames, nil if none.
func (r *Room) Audio() *AudioSink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.audio
}

// RTPVideo returns the video track published with RTP, nil if none.
func (r *Room) RTPVideo() *RTPVideoSink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rtpVideo
}

// RTPAudio returns the audio track published with RTP, nil if none.
func (r *Room) RTPAudio() *RTPAudioSink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rtpAudio
}

// VideoSink is a published video track that records the frames written.
type VideoSink struct {
	Spec room.VideoSpec

	mu      sync.Mutex
	frames  [][]*media.Frame
	enabled []bool
}

func (v *VideoSink) TrackInfo() *livekit.TrackInfo {
	return &livekit.TrackInfo{Sid: "TR_video", Type: livekit.TrackType_VIDEO, Name: v.Spec.Name, Source: v.Spec.Source}
}

func (v *VideoSink) WriteFrame(layer int, f *media.Frame) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if layer < 0 || layer >= len(v.frames) {
		return room.ErrBadLayer
	}
	v.frames[layer] = append(v.frames[layer], f)
	return nil
}

func (v *VideoSink) LayerEnabled(layer int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return layer < 0 || layer >= len(v.enabled) || v.enabled[layer]
}

// SetLayerEnabled sets what LayerEnabled reports, as LiveKit's dynacast
// does.
func (v *VideoSink) SetLayerEnabled(layer int, on bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.enabled[layer] = on
}

// Frames returns the frames written on a layer.
func (v *VideoSink) Frames(layer int) []*media.Frame {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*media.Frame(nil), v.frames[layer]...)
}

// AudioSink is a published audio track that records the frames written.
type AudioSink struct {
	Spec room.AudioSpec

	mu     sync.Mutex
	frames []*media.Frame
}

func (a *AudioSink) TrackInfo() *livekit.TrackInfo {
	return &livekit.TrackInfo{Sid: "TR_audio", Type: livekit.TrackType_AUDIO, Name: a.Spec.Name, Source: a.Spec.Source}
}

func (a *AudioSink) WriteFrame(f *media.Frame) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.frames = append(a.frames, f)
	return nil
}

// Frames returns the frames written.
func (a *AudioSink) Frames() []*media.Frame {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*media.Frame(nil), a.frames...)
}

// RTPVideoSink is a video track published for RTP forwarding that records
// the packets written.
type RTPVideoSink struct {
	Spec room.RTPVideoSpec

	mu      sync.Mutex
	packets [][]*rtp.Packet
}

func (v *RTPVideoSink) TrackInfo() *livekit.TrackInfo {
	return &livekit.TrackInfo{Sid: "TR_video", Type: livekit.TrackType_VIDEO, Name: v.Spec.Name, Source: v.Spec.Source,
		Simulcast: len(v.Spec.Layers) > 1}
}

func (v *RTPVideoSink) WriteRTP(layer int, p *rtp.Packet) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if layer < 0 || layer >= len(v.packets) {
		return room.ErrBadLayer
	}
	v.packets[layer] = append(v.packets[layer], p)
	return nil
}

// Packets returns the packets written on a layer.
func (v *RTPVideoSink) Packets(layer int) []*rtp.Packet {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*rtp.Packet(nil), v.packets[layer]...)
}

// RTPAudioSink is an audio track published for RTP forwarding that
// records the packets written.
type RTPAudioSink struct {
	Spec room.RTPAudioSpec

	mu      sync.Mutex
	packets []*rtp.Packet
}

func (a *RTPAudioSink) TrackInfo() *livekit.TrackInfo {
	return &livekit.TrackInfo{Sid: "TR_audio", Type: livekit.TrackType_AUDIO, Name: a.Spec.Name, Source: a.Spec.Source}
}

func (a *RTPAudioSink) WriteRTP(p *rtp.Packet) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.packets = append(a.packets, p)
	return nil
}

// Packets returns the packets written.
func (a *RTPAudioSink) Packets() []*rtp.Packet {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*rtp.Packet(nil), a.packets...)
}

var (
	_ pipeline.Rooms        = (*Rooms)(nil)
	_ pipeline.RoomConn     = (*Room)(nil)
	_ pipeline.VideoSink    = (*VideoSink)(nil)
	_ pipeline.AudioSink    = (*AudioSink)(nil)
	_ pipeline.RTPVideoSink = (*RTPVideoSink)(nil)
	_ pipeline.RTPAudioSink = (*RTPAudioSink)(nil)
	_ pipeline.Reporter     = (*Reporter)(nil)
	_ pipeline.Transcoders  = (*Transcoders)(nil)
	_ pipeline.Clock        = (*Clock)(nil)
)
