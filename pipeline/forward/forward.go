// Package forward is the strategy of a session that forwards a WebRTC
// source (WHIP): its RTP packets go into the room as they arrive, without
// depacketizing or decoding. A simulcast source becomes one simulcast
// track whose layers are the source's own encodings, sized from their
// bitstreams, with keyframe requests from the room sent back to the source
// layer they concern. G.711 audio (PCMA, PCMU), which a room does not
// carry, is the exception: it is transcoded to Opus as it arrives, in
// sync with the forwarded video (see g711Audio).
//
// The session around it (pipeline.Session) does the rest, as for frames:
// it reports BUFFERING (set by the service when the publish is authorized)
// → PUBLISHING once the first packet was forwarded → INACTIVE at the end,
// or ERROR with the reason; it joins the room again after a final
// disconnect, and ends a session whose source went silent.
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

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/room"
	"github.com/tributary-ingress/tributary/simulcast"
)

// Defaults.
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

	maxLayers = 3
)

// NegotiatedVideo describes the source's video.
type NegotiatedVideo struct {
	// Codec is the negotiated codec (MimeType, ClockRate, SDPFmtpLine).
	Codec webrtc.RTPCodecCapability
	// Layers is 1, or the number of simulcast encodings (2 or 3) in the
	// source's order, highest first: layer 0 becomes HIGH, 1 MEDIUM, 2 LOW.
	Layers int
}

// Media is what the source negotiated.
type Media struct {
	Video *NegotiatedVideo // nil without video
	// Audio is Opus, forwarded, or G.711 (PCMA, PCMU), transcoded to Opus
	// when the Forwarder TranscodesAudio.
	Audio *webrtc.RTPCodecCapability
	// AudioLevelExtID is the ID of the source's audio-level header
	// extension (RFC 6464), 0 without: its level is passed on to LiveKit.
	AudioLevelExtID uint8
	// RequestKeyframe asks the source for a keyframe on a video layer. It
	// must not block.
	RequestKeyframe func(layer int)
}

// Forwarder is the input side of a forwarding session. Start it with
// Start, hand it the negotiated media with Configure, then the packets
// with WriteVideoRTP and WriteAudioRTP (from any goroutine), and Close it
// when the source goes.
type Forwarder struct {
	s    *pipeline.Session
	conf pipeline.Config
	log  logger.Logger

	confOnce sync.Once
	mime     atomic.Pointer[string] // video MIME type, set by Configure
	// g711 transcodes G.711 audio to Opus; set by Configure when the
	// source sends G.711.
	g711   atomic.Pointer[g711Audio]
	layers [maxLayers]layerState
	audio  streamStats
	out    atomic.Pointer[tracks]
	// sync keeps the sender's lip sync of forwarded video and Opus audio;
	// set by Configure when the source sends both. held is the audio held
	// back for it.
	sync atomic.Pointer[lipSync]
	held holdQueue
	// sized is signalled when a layer's size becomes known.
	sized chan struct{}

	// Session goroutine only.
	media      *Media // once configured
	configured time.Time
}

// tracks are the published tracks packets go to.
type tracks struct {
	video  pipeline.RTPVideoSink
	audio  pipeline.RTPAudioSink
	layers int // video layers
}

// streamStats counts what one stream forwarded; written by the stream's
// reader, read by the session goroutine.
type streamStats struct {
	bytes  atomic.Int64
	frames atomic.Int64
	seq    seqRewriter
}

type layerState struct {
	streamStats
	width, height atomic.Int32
}

// Start starts a session that forwards RTP and waits for Configure. The
// session's NoMediaTimeout defaults to DefaultNoMediaTimeout; it is live.
func Start(conf pipeline.Config) *Forwarder {
	if conf.NoMediaTimeout == 0 {
		conf.NoMediaTimeout = DefaultNoMediaTimeout
	}
	conf.Live = true
	f := &Forwarder{conf: conf, log: conf.Reporter.Logger(), sized: make(chan struct{}, 1)}
	f.held.f = f
	pipeline.StartWith(conf, (*strategy)(f))
	return f
}

// TranscodesAudio reports whether G.711 audio (PCMA, PCMU) can be taken:
// the session transcodes it to Opus when its Config has Transcoders that
// this build can run. Any other audio must be Opus.
func (f *Forwarder) TranscodesAudio() bool {
	return f.conf.Transcoders != nil && f.conf.Transcoders.Unavailable() == nil
}

// Configure hands over the negotiated media; only the first call counts.
func (f *Forwarder) Configure(m Media) error {
	if m.Video == nil && m.Audio == nil {
		return errors.New("the source negotiated neither audio nor video")
	}
	g711 := g711Track(m.Audio)
	if g711 != nil && !f.TranscodesAudio() {
		return fmt.Errorf("%s audio must be transcoded to Opus, and this session cannot transcode", m.Audio.MimeType)
	}
	if v := m.Video; v != nil && (v.Layers < 1 || v.Layers > maxLayers) {
		return fmt.Errorf("%d video layers: 1 to %d are supported", v.Layers, maxLayers)
	}
	var err error
	f.confOnce.Do(func() {
		if m.Video != nil {
			mime := m.Video.Codec.MimeType
			f.mime.Store(&mime)
		}
		if g711 != nil {
			f.g711.Store(&g711Audio{f: f, src: g711})
		} else if m.Video != nil && m.Audio != nil && m.Video.Codec.ClockRate > 0 && m.Audio.ClockRate > 0 {
			f.sync.Store(newLipSync(f.s.Clock(), f.log, m.Audio.ClockRate, m.Video.Codec.ClockRate))
		}
		err = f.s.Post(&m)
	})
	return err
}

// Close tells the session the source has gone: err nil for a clean end
// (the client deleted the resource or closed the connection).
func (f *Forwarder) Close(err error) { f.s.Close(err) }

// Done is closed when the session has ended and reported its end.
func (f *Forwarder) Done() <-chan struct{} { return f.s.Done() }

// WriteVideoRTP forwards a packet of a video layer. Until the track is
// published, packets are only probed for the layer's size. The packet is
// modified (see room.RTPVideoTrack.WriteRTP).
func (f *Forwarder) WriteVideoRTP(layer int, p *rtp.Packet) {
	if layer < 0 || layer >= maxLayers {
		return
	}
	l := &f.layers[layer]
	mime := f.mime.Load()
	if mime == nil {
		return
	}
	if w, h, ok := PictureSize(*mime, p.Payload); ok {
		known := l.width.Load() > 0
		l.width.Store(int32(w))
		l.height.Store(int32(h))
		if !known {
			select {
			case f.sized <- struct{}{}:
			default:
			}
		}
	}
	f.arrived(p)
	out := f.out.Load()
	if out == nil || out.video == nil || !l.seq.rewrite(p) {
		return
	}
	if s := f.sync.Load(); s != nil {
		s.video(layer, p, f.s.Clock().Now())
	}
	f.count(&l.streamStats, media.KindVideo, out.layers-1-layer, p)
	if err := out.video.WriteRTP(layer, p); err != nil {
		f.log.Debugw("forward video", "error", err.Error(), "layer", layer)
	}
}

// WriteAudioRTP forwards an audio packet (see WriteVideoRTP), or
// transcodes it when it is G.711.
func (f *Forwarder) WriteAudioRTP(p *rtp.Packet) {
	f.arrived(p)
	if g := f.g711.Load(); g != nil {
		if len(p.Payload) > 0 {
			g.write(p)
		}
		return
	}
	out := f.out.Load()
	if out == nil || out.audio == nil || !f.audio.seq.rewrite(p) {
		return
	}
	s := f.sync.Load()
	if s == nil {
		f.forwardAudio(p)
		return
	}
	now := f.s.Clock().Now()
	f.held.write(p, now, s.audio(p, now))
}

// SenderReport hands over a sender report of the source's audio, or of a
// video layer: its NTP time and the RTP timestamp it maps to. From the
// reports of both tracks on, audio that arrives early is held back to keep
// the sender's lip sync (see lipSync).
func (f *Forwarder) SenderReport(video bool, layer int, ntpTime uint64, rtpTime uint32) {
	if s := f.sync.Load(); s != nil {
		s.senderReport(video, layer, ntpTime, rtpTime)
	}
}

// forwardAudio writes an audio packet to the published track, if any.
func (f *Forwarder) forwardAudio(p *rtp.Packet) {
	out := f.out.Load()
	if out == nil || out.audio == nil {
		return
	}
	f.count(&f.audio, media.KindAudio, -1, p)
	if err := out.audio.WriteRTP(p); err != nil {
		f.log.Debugw("forward audio", "error", err.Error())
	}
}

// arrived tells the no-media watchdog about a packet with media (padding,
// which a browser sends to probe bandwidth, is not media), forwarded or
// not.
func (f *Forwarder) arrived(p *rtp.Packet) {
	if len(p.Payload) > 0 {
		f.s.MediaArrived()
	}
}

// count counts a packet about to be forwarded; statsLayer is its layer as
// the metrics number them (0 the lowest quality), -1 for audio.
func (f *Forwarder) count(st *streamStats, kind media.Kind, statsLayer int, p *rtp.Packet) {
	n := len(p.Payload)
	st.bytes.Add(int64(n))
	if p.Marker {
		st.frames.Add(1)
	}
	stats := f.s.Stats()
	stats.AddInput(kind, n)
	stats.AddOutput(statsLayer, n)
	f.s.Published()
}

// strategy is the Forwarder as the session's pipeline.Strategy.
type strategy Forwarder

func (st *strategy) Attach(s *pipeline.Session) { st.s = s }

func (st *strategy) Sender() string { return "the WebRTC client" }

func (st *strategy) Handle(in any) error {
	if m, ok := in.(*Media); ok && st.media == nil {
		st.media = m
		st.configured = st.s.Clock().Now()
	}
	return nil
}

func (st *strategy) Ready(bool) (bool, time.Time) { return st.media != nil, time.Time{} }

func (st *strategy) Publish(ctx context.Context, join func() (pipeline.RoomConn, error)) ([]*livekit.TrackInfo, error) {
	f := (*Forwarder)(st)
	m := st.media
	info := st.conf.Reporter.Info()
	g711 := st.g711.Load()
	var aplan simulcast.AudioPlan
	if g711 != nil {
		// The Opus encoding follows the ingress's audio options, as a
		// transcoding session's does.
		var err error
		if aplan, err = simulcast.ResolveAudio(info.GetAudio()); err != nil {
			return nil, err
		}
	}
	rm, err := join()
	if err != nil {
		return nil, err
	}
	log := st.log
	out := &tracks{}
	var published []*livekit.TrackInfo
	if v := m.Video; v != nil {
		if err := f.waitSizes(ctx, v.Layers); err != nil {
			return nil, err
		}
		spec := room.RTPVideoSpec{Codec: v.Codec, Name: info.GetVideo().GetName(),
			Source: info.GetVideo().GetSource(), OnKeyframeRequest: m.RequestKeyframe}
		spec.Layers = f.layerSpecs(v.Layers)
		vt, err := rm.PublishVideoRTP(spec)
		if err != nil {
			return nil, err
		}
		out.video, out.layers = vt, v.Layers
		published = append(published, vt.TrackInfo())
		log.Infow("forwarding video", "codec", v.Codec.MimeType, "layers", layerString(spec.Layers))
	}
	if a := m.Audio; a != nil && g711 != nil {
		at, err := g711.publish(rm, aplan)
		if err != nil {
			return nil, err
		}
		published = append(published, at.TrackInfo())
		log.Infow("transcoding G.711 audio to Opus", "codec", a.MimeType, "channels", aplan.Channels, "bitrate", aplan.Bitrate)
	} else if a != nil {
		opts := info.GetAudio()
		at, err := rm.PublishAudioRTP(room.RTPAudioSpec{Codec: *a, Stereo: a.Channels == 2, LevelExtID: m.AudioLevelExtID,
			Name: opts.GetName(), Source: opts.GetSource()})
		if err != nil {
			return nil, err
		}
		out.audio = at
		published = append(published, at.TrackInfo())
		log.Infow("forwarding audio", "codec", a.MimeType, "audioLevel", m.AudioLevelExtID != 0)
	}
	st.out.Store(out)
	// The new tracks start with a keyframe of every layer.
	if m.Video != nil && m.RequestKeyframe != nil {
		for i := range m.Video.Layers {
			m.RequestKeyframe(i)
		}
	}
	st.ReportInput()
	return published, nil
}

func (st *strategy) Unpublish() {
	st.out.Store(nil)
	if g := st.g711.Load(); g != nil {
		g.unpublish()
	}
}

// ReportInput refreshes the input state with what was forwarded since
// the source was configured.
func (st *strategy) ReportInput() {
	m := st.media
	if m == nil {
		return
	}
	secs := st.s.Clock().Now().Sub(st.configured).Seconds()
	r := st.conf.Reporter
	log := st.log
	if v := m.Video; v != nil {
		is := &livekit.InputVideoState{MimeType: v.Codec.MimeType}
		var bytes int64
		for i := range v.Layers {
			l := &st.layers[i]
			bytes += l.bytes.Load()
			if w, h := uint32(l.width.Load()), uint32(l.height.Load()); w*h > is.Width*is.Height {
				is.Width, is.Height = w, h
			}
		}
		if secs > 0 {
			is.AverageBitrate = uint32(float64(bytes*8) / secs)
			is.Framerate = float64(st.layers[0].frames.Load()) / secs
		}
		if err := r.SetInputVideo(is); err != nil {
			log.Debugw("input video state", "error", err.Error())
		}
	}
	if a := m.Audio; a != nil {
		is := &livekit.InputAudioState{MimeType: a.MimeType, Channels: uint32(max(a.Channels, 1)), SampleRate: a.ClockRate}
		if secs > 0 {
			is.AverageBitrate = uint32(float64(st.audio.bytes.Load()*8) / secs)
		}
		if err := r.SetInputAudio(is); err != nil {
			log.Debugw("input audio state", "error", err.Error())
		}
	}
}

// waitSizes waits until every layer's size is known from its bitstream,
// or DefaultSizeWait after the source was configured.
func (f *Forwarder) waitSizes(ctx context.Context, n int) error {
	clock := f.s.Clock()
	deadline := f.configured.Add(DefaultSizeWait)
	for {
		known := 0
		for i := range n {
			if f.layers[i].width.Load() > 0 {
				known++
			}
		}
		left := deadline.Sub(clock.Now())
		if known == n || left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-f.sized:
		case <-clock.After(left):
		}
	}
}

var qualities = [maxLayers]livekit.VideoQuality{livekit.VideoQuality_HIGH, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_LOW}

// layerSpecs gives each layer its quality in the source's order and its
// size from the bitstream; a layer not seen yet is estimated from a known
// one at a factor of 2 per step, the usual simulcast ladder.
func (f *Forwarder) layerSpecs(n int) []room.VideoLayer {
	out := make([]room.VideoLayer, n)
	ref := -1
	for i := range n {
		out[i] = room.VideoLayer{Quality: qualities[i],
			Width: uint32(f.layers[i].width.Load()), Height: uint32(f.layers[i].height.Load())}
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
