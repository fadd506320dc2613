// Package forward runs a passthrough session: the RTP packets of a WebRTC
// source (WHIP) are forwarded into the room as they arrive, without
// depacketizing or decoding. A simulcast source becomes one simulcast
// track whose layers are the source's own encodings, sized from their
// bitstreams, with keyframe requests from the room sent back to the
// source layer they concern.
//
// The session reports its state through a session.Reporter:
// BUFFERING (set by the service when the publish is authorized) →
// PUBLISHING once the first packet was forwarded → INACTIVE at the end, or
// ERROR with the reason.
package forward

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/room"
	"github.com/tributary-ingress/tributary/session"
)

// Defaults of Config.
const (
	// DefaultSizeWait bounds the wait for the size of every layer before
	// the track is published: a browser starts its top layer only once its
	// bandwidth estimate allows, so missing sizes are then estimated.
	DefaultSizeWait = 2 * time.Second
	// DefaultNoMediaTimeout ends a session whose source sends nothing
	// while its connection stays up. It is longer than the WHIP input's ICE
	// failure detection (5 s disconnected + 10 s failed, checked every
	// 2 s), so a client that vanished is reported as a lost connection,
	// the more precise reason.
	DefaultNoMediaTimeout = 25 * time.Second

	joinTimeout   = 20 * time.Second
	statsInterval = 5 * time.Second
	checkInterval = time.Second
	maxLayers     = 3
)

// ErrNoMedia is the reason a silent source's session fails.
var ErrNoMedia = errors.New("no media received")

// Video describes the source's video.
type Video struct {
	// Codec is the negotiated codec (MimeType, ClockRate, SDPFmtpLine).
	Codec webrtc.RTPCodecCapability
	// Layers is 1, or the number of simulcast encodings (2 or 3) in the
	// source's order, highest first: layer 0 becomes HIGH, 1 MEDIUM, 2 LOW.
	Layers int
}

// Media is what the source negotiated.
type Media struct {
	Video *Video // nil without video
	Audio *webrtc.RTPCodecCapability
	// AudioLevelExtID is the ID of the source's audio-level header
	// extension (RFC 6464), 0 without: its level is passed on to LiveKit.
	AudioLevelExtID uint8
	// RequestKeyframe asks the source for a keyframe on a video layer. It
	// must not block.
	RequestKeyframe func(layer int)
}

// Config configures a Session.
type Config struct {
	Reporter session.Reporter
	// Room has the server URL and credentials; the room name and the
	// participant come from the ingress record.
	Room room.Config
	// SizeWait and NoMediaTimeout default to DefaultSizeWait and
	// DefaultNoMediaTimeout.
	SizeWait       time.Duration
	NoMediaTimeout time.Duration
}

// Session is one passthrough session. Start it with Start, hand it the
// negotiated media with Configure, then the packets with WriteVideoRTP and
// WriteAudioRTP (from any goroutine), and Close it when the source goes.
type Session struct {
	conf Config
	log  logger.Logger
	ctx  context.Context

	configured chan Media
	closeCh    chan error
	closeOnce  sync.Once
	confOnce   sync.Once
	done       chan struct{}

	mime    atomic.Pointer[string] // video MIME type, set by Configure
	layers  [maxLayers]layerState
	audio   streamStats
	out     atomic.Pointer[tracks]
	started time.Time
	last    atomic.Int64 // unix ns of the last packet
	first   chan struct{}
	firstMu sync.Once
}

type tracks struct {
	video *room.RTPVideoTrack
	audio *room.RTPAudioTrack
}

// streamStats counts what one stream forwarded; written by the stream's
// reader, read by the session loop.
type streamStats struct {
	bytes   atomic.Int64
	packets atomic.Int64
	frames  atomic.Int64
	seq     seqRewriter
}

type layerState struct {
	streamStats
	width, height atomic.Int32
}

// Start starts a session that waits for Configure.
func Start(conf Config) *Session {
	if conf.SizeWait == 0 {
		conf.SizeWait = DefaultSizeWait
	}
	if conf.NoMediaTimeout == 0 {
		conf.NoMediaTimeout = DefaultNoMediaTimeout
	}
	s := &Session{
		conf:       conf,
		log:        conf.Reporter.Logger(),
		ctx:        conf.Reporter.Context(),
		configured: make(chan Media, 1),
		closeCh:    make(chan error, 1),
		done:       make(chan struct{}),
		first:      make(chan struct{}),
	}
	go s.run()
	return s
}

// Configure hands over the negotiated media; only the first call counts.
func (s *Session) Configure(m Media) error {
	if m.Video == nil && m.Audio == nil {
		return errors.New("the source negotiated neither audio nor video")
	}
	if v := m.Video; v != nil && (v.Layers < 1 || v.Layers > maxLayers) {
		return fmt.Errorf("%d video layers: 1 to %d are supported", v.Layers, maxLayers)
	}
	s.confOnce.Do(func() {
		if m.Video != nil {
			mime := m.Video.Codec.MimeType
			s.mime.Store(&mime)
		}
		s.configured <- m
	})
	return nil
}

// Close tells the session the source has gone: err nil for a clean end
// (the client deleted the resource or closed the connection).
func (s *Session) Close(err error) {
	s.closeOnce.Do(func() { s.closeCh <- err })
}

// Done is closed when the session has ended and reported its end.
func (s *Session) Done() <-chan struct{} { return s.done }

// WriteVideoRTP forwards a packet of a video layer. Until the track is
// published, packets are only probed for the layer's size. The packet is
// modified (see room.RTPVideoTrack.WriteRTP).
func (s *Session) WriteVideoRTP(layer int, p *rtp.Packet) {
	if layer < 0 || layer >= maxLayers {
		return
	}
	l := &s.layers[layer]
	mime := s.mime.Load()
	if mime == nil {
		return
	}
	if w, h, ok := PictureSize(*mime, p.Payload); ok {
		l.width.Store(int32(w))
		l.height.Store(int32(h))
	}
	out := s.out.Load()
	if out == nil || out.video == nil || !l.seq.rewrite(p) {
		return
	}
	s.count(&l.streamStats, p)
	if err := out.video.WriteRTP(layer, p); err != nil {
		s.log.Debugw("forward video", "error", err.Error(), "layer", layer)
	}
}

// WriteAudioRTP forwards an audio packet (see WriteVideoRTP).
func (s *Session) WriteAudioRTP(p *rtp.Packet) {
	out := s.out.Load()
	if out == nil || out.audio == nil || !s.audio.seq.rewrite(p) {
		return
	}
	s.count(&s.audio, p)
	if err := out.audio.WriteRTP(p); err != nil {
		s.log.Debugw("forward audio", "error", err.Error())
	}
}

func (s *Session) count(st *streamStats, p *rtp.Packet) {
	st.bytes.Add(int64(len(p.Payload)))
	st.packets.Add(1)
	if p.Marker {
		st.frames.Add(1)
	}
	s.last.Store(time.Now().UnixNano())
	s.firstMu.Do(func() { close(s.first) })
}

func (s *Session) run() {
	defer close(s.done)
	r := s.conf.Reporter
	err := guard.Call(s.log, "session", s.runInner)
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) || s.ctx.Err() != nil:
		// Ended by the service (update, delete, a newer publisher).
	default:
		if ferr := r.Fail(err); ferr != nil {
			s.log.Warnw("could not record the session error", ferr)
		}
	}
	if eerr := r.End(); eerr != nil {
		s.log.Warnw("could not record the session end", eerr)
	}
}

func (s *Session) runInner() error {
	var m Media
	select {
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	case err := <-s.closeCh:
		return err
	case m = <-s.configured:
	}
	s.started = time.Now()
	s.last.Store(s.started.UnixNano())
	sizeDeadline := s.started.Add(s.conf.SizeWait)

	rm, err := s.join()
	if err != nil {
		return err
	}
	defer rm.Close()

	out := &tracks{}
	if v := m.Video; v != nil {
		if err := s.waitSizes(v.Layers, sizeDeadline); err != nil {
			return err
		}
		spec := room.RTPVideoSpec{Codec: v.Codec, Name: s.conf.Reporter.Info().GetVideo().GetName(),
			Source: videoSource(s.conf.Reporter.Info()), OnKeyframeRequest: m.RequestKeyframe}
		spec.Layers = s.layerSpecs(v.Layers)
		vt, err := rm.PublishVideoRTP(spec)
		if err != nil {
			return err
		}
		out.video = vt
		s.addTrack(vt.TrackInfo())
		s.log.Infow("forwarding video", "codec", v.Codec.MimeType, "layers", layerString(spec.Layers))
	}
	if a := m.Audio; a != nil {
		opts := s.conf.Reporter.Info().GetAudio()
		at, err := rm.PublishAudioRTP(room.RTPAudioSpec{Codec: *a, Stereo: a.Channels == 2, LevelExtID: m.AudioLevelExtID,
			Name: opts.GetName(), Source: opts.GetSource()})
		if err != nil {
			return err
		}
		out.audio = at
		s.addTrack(at.TrackInfo())
		s.log.Infow("forwarding audio", "codec", a.MimeType, "audioLevel", m.AudioLevelExtID != 0)
	}
	s.out.Store(out)
	if m.Video != nil && m.RequestKeyframe != nil {
		for i := range m.Video.Layers {
			m.RequestKeyframe(i)
		}
	}
	s.reportInput(m)

	stats := time.NewTicker(statsInterval)
	defer stats.Stop()
	check := time.NewTicker(checkInterval)
	defer check.Stop()
	first := s.first
	for {
		select {
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		case err := <-s.closeCh:
			return err
		case <-rm.Disconnected():
			return room.ErrDisconnected
		case <-first:
			first = nil
			if err := s.conf.Reporter.SetPublishing(); err != nil {
				s.log.Warnw("could not record PUBLISHING", err)
			}
		case <-check.C:
			if idle := time.Since(time.Unix(0, s.last.Load())); idle > s.conf.NoMediaTimeout {
				return fmt.Errorf("%w for %v: the WebRTC client stopped sending", ErrNoMedia, idle.Round(time.Second))
			}
		case <-stats.C:
			s.reportInput(m)
		}
	}
}

func (s *Session) join() (*room.Room, error) {
	info := s.conf.Reporter.Info()
	rc := s.conf.Room
	rc.RoomName = info.RoomName
	rc.ParticipantIdentity = info.ParticipantIdentity
	rc.ParticipantName = info.ParticipantName
	rc.ParticipantMetadata = info.ParticipantMetadata
	rc.IngressID = info.IngressId
	rc.ResourceID = s.conf.Reporter.ResourceID()
	rc.Logger = s.log
	ctx, cancel := context.WithTimeout(s.ctx, joinTimeout)
	defer cancel()
	rm, err := room.Join(ctx, rc)
	if err != nil {
		return nil, err
	}
	if err := s.conf.Reporter.SetRoomID(rm.SID()); err != nil {
		s.log.Warnw("could not record the room ID", err)
	}
	return rm, nil
}

// waitSizes waits until every layer's size is known from its bitstream,
// or the deadline.
func (s *Session) waitSizes(n int, deadline time.Time) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		known := 0
		for i := range n {
			if s.layers[i].width.Load() > 0 {
				known++
			}
		}
		if known == n || !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		case err := <-s.closeCh:
			s.closeCh <- err // seen again by the main loop
			return nil
		case <-t.C:
		}
	}
}

var qualities = [maxLayers]livekit.VideoQuality{livekit.VideoQuality_HIGH, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_LOW}

// layerSpecs gives each layer its quality in the source's order and its
// size from the bitstream; a layer not seen yet is estimated from a known
// one at a factor of 2 per step, the usual simulcast ladder.
func (s *Session) layerSpecs(n int) []room.VideoLayer {
	out := make([]room.VideoLayer, n)
	ref := -1
	for i := range n {
		out[i] = room.VideoLayer{Quality: qualities[i],
			Width: uint32(s.layers[i].width.Load()), Height: uint32(s.layers[i].height.Load())}
		if out[i].Width > 0 && ref < 0 {
			ref = i
		}
	}
	if n == 1 {
		out[0].Quality = livekit.VideoQuality_HIGH
	}
	if ref < 0 {
		return out
	}
	for i := range out {
		if out[i].Width == 0 {
			shift := i - ref
			w, h := out[ref].Width, out[ref].Height
			if shift > 0 {
				w, h = w>>shift, h>>shift
			} else {
				w, h = w<<-shift, h<<-shift
			}
			out[i].Width, out[i].Height = w, h
		}
	}
	return out
}

func (s *Session) reportInput(m Media) {
	secs := time.Since(s.started).Seconds()
	r := s.conf.Reporter
	if v := m.Video; v != nil {
		st := &livekit.InputVideoState{MimeType: v.Codec.MimeType}
		var bytes int64
		for i := range v.Layers {
			l := &s.layers[i]
			bytes += l.bytes.Load()
			if w, h := uint32(l.width.Load()), uint32(l.height.Load()); w*h > st.Width*st.Height {
				st.Width, st.Height = w, h
			}
		}
		if secs > 0 {
			st.AverageBitrate = uint32(float64(bytes*8) / secs)
			st.Framerate = float64(s.layers[0].frames.Load()) / secs
		}
		if err := r.SetInputVideo(st); err != nil {
			s.log.Debugw("input video state", "error", err.Error())
		}
	}
	if a := m.Audio; a != nil {
		st := &livekit.InputAudioState{MimeType: a.MimeType, Channels: uint32(a.Channels), SampleRate: a.ClockRate}
		if secs > 0 {
			st.AverageBitrate = uint32(float64(s.audio.bytes.Load()*8) / secs)
		}
		if err := r.SetInputAudio(st); err != nil {
			s.log.Debugw("input audio state", "error", err.Error())
		}
	}
}

func (s *Session) addTrack(ti *livekit.TrackInfo) {
	if ti == nil {
		return
	}
	if err := s.conf.Reporter.AddTrack(ti); err != nil {
		s.log.Warnw("could not record the published track", err)
	}
}

func videoSource(info *livekit.IngressInfo) livekit.TrackSource {
	if src := info.GetVideo().GetSource(); src != livekit.TrackSource_UNKNOWN {
		return src
	}
	return livekit.TrackSource_CAMERA
}

func layerString(ls []room.VideoLayer) string {
	out := ""
	for i, l := range ls {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%s:%dx%d", l.Quality, l.Width, l.Height)
	}
	return out
}
