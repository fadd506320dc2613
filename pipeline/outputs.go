package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/room"
	"github.com/tributary-ingress/tributary/simulcast"
)

// Pacing delay: the release of every frame is delayed by this much behind
// its arrival so that the time a transcoder takes does not skew audio
// against video (both are released on the media timeline). A live
// transcoding session adapts its delay to the transcoder (see
// releaseDelay), with transcodeDelay as the ceiling; files, and a delay
// pinned by Config.TranscodeDelay, keep theirs.
//
// A frame released later than its due time also skews the RTCP sender
// reports (they map RTP time to the send time), which viewers use for lip
// sync, so the transcode budget is generous: a 1080p picture takes three
// encodes of up to ~30 ms on a loaded machine, plus queueing.
const (
	transcodeDelay   = 250 * time.Millisecond
	passthroughDelay = 20 * time.Millisecond
)

// ErrBFrames is the reason a source with B-frames cannot be forwarded. The
// session adds what else the streamer can do: enable transcoding, or, in
// the passthrough build, run the build that transcodes.
var ErrBFrames = errors.New("H.264 with B-frames cannot be forwarded without transcoding: " +
	"set B-frames to 0 in the encoder (x264: bframes=0, OBS: profile baseline)")

// webRTCReady is what a source must send for a session without
// transcoding.
const webRTCReady = "WebRTC-ready media (H.264 without B-frames, VP8, VP9 or AV1 video; Opus audio)"

// ErrUnsupported is wrapped by errors about codecs the session cannot use.
var ErrUnsupported = errors.New("unsupported")

// outputs are one publication of a frame session's tracks in one room:
// the transcoders, the paced writers and the published tracks. A rejoin
// makes new ones.
type outputs struct {
	s     *Session
	room  RoomConn
	pacer *room.Pacer

	video *videoOut
	audio *audioOut

	// noTranscoding is why this build cannot transcode (nil when it can).
	noTranscoding error

	closeOnce sync.Once

	vw []*pacedWriter // per video layer
	aw *pacedWriter

	cueMu   sync.Mutex
	cues    []cue         // ad-break commands waiting for their media time
	adValue string        // the ad-break attribute as last set
	inTime  time.Duration // media time reached by the input (see noteInput)
	inSeen  bool
	attrs   attributeSetter // where the attribute goes; nil: the room
}

type videoOut struct {
	src     *media.Track
	params  [][]byte // parameter sets from the track config (H.264, H.265)
	track   VideoSink
	tc      VideoTranscoder // set before the track is published
	bframes h264.BFrameDetector
	checkB  bool
	bytes   int64
	frames  int64
	since   time.Time
	// layers as published and, per layer, whether its encoder runs (see
	// applyDynacast); used by the session goroutine only.
	layers  []room.VideoLayer
	running []bool
}

type audioOut struct {
	src   *media.Track
	track AudioSink
	tc    AudioTranscoder
	bytes int64
	since time.Time
}

// startOutputs decides passthrough or transcoding per track, joins the
// room with join and publishes the tracks. On an error, what it started is
// closed (the room is the session's to leave).
func (s *Session) startOutputs(video, audio *media.Track, join func() (RoomConn, error)) (*outputs, []*livekit.TrackInfo, error) {
	o := &outputs{s: s, noTranscoding: s.conf.Transcoders.Unavailable()}
	tracks, err := o.start(video, audio, join)
	if err != nil {
		o.close()
		return nil, nil, err
	}
	return o, tracks, nil
}

func (o *outputs) start(video, audio *media.Track, join func() (RoomConn, error)) ([]*livekit.TrackInfo, error) {
	s := o.s
	info := s.conf.Reporter.Info()
	transcoding := info.GetEnableTranscoding()
	s.reportInput(video, audio)
	if o.noTranscoding != nil {
		var err error
		if audio, err = s.withoutTranscoding(transcoding, video, audio, o.noTranscoding); err != nil {
			return nil, err
		}
	}

	delay, adaptive := s.releaseDelay(transcoding)
	o.pacer = &room.Pacer{Delay: delay, Adaptive: adaptive, MaxLead: liveMaxLead(s.conf), Now: s.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { return sleep(ctx, s.clock, d) }}

	var vspec room.VideoSpec
	var vplan simulcast.VideoPlan
	if video != nil {
		o.video = &videoOut{src: video, since: s.clock.Now(), params: parameterSets(video)}
		vspec = room.VideoSpec{Name: info.GetVideo().GetName(), Source: info.GetVideo().GetSource()}
		if transcoding {
			var err error
			vplan, err = simulcast.ResolveVideo(info.Video)
			if err != nil {
				return nil, err
			}
			// Every layer of the plan is published, at the size the source
			// gives it now; the transcoder gets the boxes and makes the
			// layers the source's size allows, planning again when it
			// changes (see transcode.LayerTarget), so the track never has to be
			// published again.
			vspec.Codec = media.CodecH264
			if vplan.Codec == livekit.VideoCodec_VP8 {
				vspec.Codec = media.CodecVP8
			}
			for _, l := range vplan.Publish(uint32(video.Width), uint32(video.Height)) {
				vspec.Layers = append(vspec.Layers, room.VideoLayer{Quality: l.Quality, Width: l.Width, Height: l.Height, Bitrate: l.Bitrate})
			}
		} else {
			switch video.Codec {
			case media.CodecH264, media.CodecVP8, media.CodecVP9, media.CodecAV1, media.CodecH265:
			default:
				if o.noTranscoding != nil {
					return nil, fmt.Errorf("%w video codec %s for passthrough: %w", ErrUnsupported, video.Codec, o.noTranscoding)
				}
				return nil, fmt.Errorf("%w video codec %s for passthrough: enable transcoding", ErrUnsupported, video.Codec)
			}
			o.video.checkB = video.Codec == media.CodecH264
			vspec.Codec = video.Codec
			vspec.Layers = []room.VideoLayer{{
				Quality: livekit.VideoQuality_HIGH, Width: uint32(video.Width), Height: uint32(video.Height),
			}}
		}
	}

	var aplan simulcast.AudioPlan
	if audio != nil {
		o.audio = &audioOut{src: audio, since: s.clock.Now()}
		var err error
		aplan, err = simulcast.ResolveAudio(info.Audio)
		if err != nil {
			return nil, err
		}
	}

	r, err := join()
	if err != nil {
		return nil, err
	}
	o.room = r

	var tracks []*livekit.TrackInfo
	if v := o.video; v != nil {
		if transcoding {
			// The transcoder exists before the track can be subscribed
			// to, so a keyframe request (from the SDK's RTCP goroutine)
			// always finds it.
			tc, err := s.conf.Transcoders.NewVideo(VideoTranscodeConfig{
				Source: video, Codec: vspec.Codec, FrameRate: vplan.FrameRate, Layers: vplan.Layers, Logger: s.log,
				Output: func(layer int, f *media.Frame) { o.writeVideo(layer, f) },
				OnDrop: s.conf.Stats.drop, OnStale: s.conf.Stats.skipStale,
			})
			if err != nil {
				return nil, fmt.Errorf("video transcoder: %w", err)
			}
			v.tc = tc
			vspec.OnKeyframeRequest = tc.RequestKeyframe
			v.layers = vspec.Layers
			v.running = make([]bool, len(vspec.Layers))
			for i := range v.running {
				v.running[i] = true
			}
		}
		s.conf.Stats.videoLayers(vspec.Layers)
		vt, err := r.PublishVideo(vspec)
		if err != nil {
			return nil, err
		}
		v.track = vt
		if v.tc != nil {
			s.conf.Stats.setSheddable(len(v.layers) - 1)
		}
		tracks = append(tracks, vt.TrackInfo())
	}
	if a := o.audio; a != nil {
		var output func(*media.Frame) // nil: the Opus source is forwarded
		if transcoding || audio.Codec != media.CodecOpus {
			output = o.writeAudio
		}
		at, tc, err := s.PublishOpus(r, aplan, audio, output)
		if at != nil {
			a.track = at
			tracks = append(tracks, at.TrackInfo())
		}
		if err != nil {
			return nil, err
		}
		a.tc = tc
	}
	o.startWriters(len(vspec.Layers))
	s.log.Infow("session outputs started", "transcoding", transcoding,
		"videoLayers", len(vspec.Layers), "videoCodec", vspec.Codec.String(), "audio", o.audio != nil)
	return tracks, nil
}

// PublishOpus publishes the ingress's Opus audio track in r, encoded as
// plan says (simulcast.ResolveAudio of the ingress's audio options), and,
// when output is set, starts the transcoder that turns src into Opus
// frames for output, which writes them to the track. Without output src
// is Opus and its frames are written to the track as they are. When the
// transcoder cannot start, the track published is returned with the
// error (the room is the caller's to leave).
//
// It is how every session gets its Opus track: the frame strategy's, and
// session/forward's for G.711 audio from WebRTC.
func (s *Session) PublishOpus(r RoomConn, plan simulcast.AudioPlan, src *media.Track, output func(*media.Frame)) (AudioSink, AudioTranscoder, error) {
	info := s.conf.Reporter.Info()
	at, err := r.PublishAudio(room.AudioSpec{Channels: int(plan.Channels), DisableDTX: plan.DisableDTX,
		Name: info.GetAudio().GetName(), Source: info.GetAudio().GetSource()})
	if err != nil || output == nil {
		return at, nil, err
	}
	tc, err := s.conf.Transcoders.NewAudio(AudioTranscodeConfig{
		Source: src, Channels: int(plan.Channels), Bitrate: int(plan.Bitrate), DTX: !plan.DisableDTX, Logger: s.log,
		Output: output,
	})
	if err != nil {
		return at, nil, fmt.Errorf("audio transcoder: %w", err)
	}
	return at, tc, nil
}

// bframesError is the reason a forwarded source with B-frames fails: set
// them to 0, or else enable transcoding, or, in a build that cannot
// transcode (noTranscoding says why), run the one that can.
func bframesError(noTranscoding error) error {
	if noTranscoding != nil {
		return fmt.Errorf("%w; %w", ErrBFrames, noTranscoding)
	}
	return fmt.Errorf("%w or enable transcoding", ErrBFrames)
}

// withoutTranscoding decides a session in a build that cannot transcode
// (why says so), before anything joins the room: an ingress with
// transcoding enabled fails, and so does a source whose only track is
// audio that is not Opus; audio that is not Opus next to video is left
// out, with a warning in the state, and the video forwarded. It returns
// the audio track to publish (nil when left out).
func (s *Session) withoutTranscoding(transcoding bool, video, audio *media.Track, why error) (*media.Track, error) {
	if transcoding {
		return nil, fmt.Errorf("this ingress has transcoding enabled, but %w; "+
			"or disable transcoding on the ingress and send %s", why, webRTCReady)
	}
	if audio == nil || audio.Codec == media.CodecOpus {
		return audio, nil
	}
	if video == nil {
		return nil, fmt.Errorf("%s audio must be transcoded to Opus, but %w; or send Opus audio", audio.Codec, why)
	}
	warn := fmt.Errorf("%s audio not published, only the video: it must be transcoded to Opus, but %w; or send Opus audio",
		audio.Codec, why)
	if err := s.conf.Reporter.Warn(warn); err != nil {
		s.log.Warnw("could not record the warning", err)
	}
	return nil, nil
}

// liveMaxLead is how far ahead of its release a live source's frame may
// arrive and still be held (a file's frames are read on time instead).
func liveMaxLead(c Config) time.Duration {
	if c.Live {
		return time.Second
	}
	return 0
}

// write routes one source frame.
func (o *outputs) write(f *media.Frame) error {
	o.s.conf.Stats.input(f)
	o.noteInput(f)
	switch f.Track.Kind {
	case media.KindVideo:
		v := o.video
		if v == nil {
			return nil
		}
		v.bytes += int64(frameSize(f))
		v.frames++
		if v.checkB && v.bframes.Observe(f.Data, f.PTS) {
			return bframesError(o.noTranscoding)
		}
		f = o.withParams(f)
		if v.tc != nil {
			o.applyDynacast(v)
			return v.tc.Write(f)
		}
		o.writeVideo(0, f)
	case media.KindAudio:
		a := o.audio
		if a == nil {
			return nil
		}
		a.bytes += int64(frameSize(f))
		if a.tc != nil {
			return a.tc.Write(f)
		}
		o.writeAudio(f)
	}
	return nil
}

// applyDynacast follows LiveKit's dynacast: a transcoded layer that no
// subscriber receives is paused (no scaling, no encoding: for the default
// preset the 720p layer alone is about three quarters of the encoding
// CPU), and resumed, from a keyframe, with the first source frame after a
// subscriber wants it again. LiveKit announces a downgrade after its
// dynacast_pause_delay (5 s by default) and an upgrade at once. Forwarded
// layers are never paused: their keyframes come only from the source.
//
// The top layers the overload controller sheds (Stats.ShedLayers) are
// paused the same way, and LiveKit moves their viewers to the next layer.
func (o *outputs) applyDynacast(v *videoOut) {
	shed := o.s.conf.Stats.shedCount()
	for i, was := range v.running {
		wanted := v.track.LayerEnabled(i)
		shedding := i > 0 && i >= len(v.running)-shed
		on := wanted && !shedding
		if on == was {
			continue
		}
		v.running[i] = on
		v.tc.SetLayerActive(i, on)
		l := v.layers[i]
		msg := "video layer paused: no subscriber receives it"
		switch {
		case on:
			msg = "video layer resumed"
		case wanted:
			msg = "video layer paused: shed, the machine cannot keep up with every session"
		}
		o.s.log.Infow(msg, "quality", l.Quality.String(), "width", l.Width, "height", l.Height)
	}
}

// parameterSets returns the parameter sets of an H.264 (SPS, PPS) or
// H.265 (VPS, SPS, PPS) track's configuration record, nil otherwise.
func parameterSets(t *media.Track) [][]byte {
	switch t.Codec {
	case media.CodecH264:
		var dc h264.DecoderConfig
		if err := dc.Unmarshal(t.Config); err == nil {
			return append(append([][]byte{}, dc.SPS...), dc.PPS...)
		}
	case media.CodecH265:
		var dc h265.DecoderConfig
		if err := dc.Unmarshal(t.Config); err == nil {
			return append(append(append([][]byte{}, dc.VPS...), dc.SPS...), dc.PPS...)
		}
	}
	return nil
}

// hasSPS tells whether an access unit carries its sequence parameter set.
func hasSPS(codec media.CodecID, au [][]byte) bool {
	for _, n := range au {
		if codec == media.CodecH264 && h264.Type(n) == h264.NALUTypeSPS ||
			codec == media.CodecH265 && h265.Type(n) == h265.NALUTypeSPS {
			return true
		}
	}
	return false
}

// withParams puts the track's parameter sets in front of an H.264 or
// H.265 keyframe that lacks them: FLV, MP4 and Matroska keep them out of
// band, while a WebRTC receiver and a decoder need them in band.
func (o *outputs) withParams(f *media.Frame) *media.Frame {
	v := o.video
	if !f.Key || len(v.params) == 0 || hasSPS(f.Track.Codec, f.Data) {
		return f
	}
	g := *f
	g.Data = make([][]byte, 0, len(v.params)+len(f.Data))
	g.Data = append(append(g.Data, v.params...), f.Data...)
	return &g
}

// writeVideo queues a frame of a layer for its release time.
func (o *outputs) writeVideo(layer int, f *media.Frame) {
	o.observeReady(layer, f)
	o.vw[layer].push(f)
}

// writeAudio queues an Opus frame for its release time.
func (o *outputs) writeAudio(f *media.Frame) {
	o.observeReady(-1, f)
	o.aw.push(f)
}

// startWriters starts the paced writers of the published tracks.
func (o *outputs) startWriters(layers int) {
	if o.video != nil {
		for i := range layers {
			layer := i
			var onDrop func()
			if tc := o.video.tc; tc != nil {
				onDrop = func() { tc.RequestKeyframe(layer) }
			}
			o.vw = append(o.vw, newPacedWriter(o, func(f *media.Frame) error {
				if err := o.video.track.WriteFrame(layer, f); err != nil {
					return err
				}
				o.s.conf.Stats.output(layer, f)
				return nil
			}, onDrop))
		}
	}
	if o.audio != nil {
		o.aw = newPacedWriter(o, func(f *media.Frame) error {
			if err := o.audio.track.WriteFrame(f); err != nil {
				return err
			}
			o.s.conf.Stats.output(-1, f)
			return nil
		}, nil)
	}
}

// pace waits until f is due. Forwarded frames of a live source also tell
// the pacer when they arrived (transcoded frames are new and carry none).
func (o *outputs) pace(f *media.Frame) (time.Duration, error) {
	pts := media.Duration(f.PTS, f.Track.ClockRate)
	var late time.Duration
	var err error
	if o.s.conf.Live {
		track := 0
		if f.Track.Kind == media.KindAudio {
			track = 1
		}
		late, err = o.pacer.WaitArrived(o.s.ctx, track, pts, f.Wall)
	} else {
		late, err = o.pacer.Wait(o.s.ctx, pts)
	}
	if err == nil {
		o.applyCues(pts)
	}
	return late, err
}

// retrack handles a new configuration of a track mid-stream.
func (o *outputs) retrack(t *media.Track) error {
	switch t.Kind {
	case media.KindVideo:
		if o.video == nil {
			o.s.log.Infow("ignoring a video track that appeared after the start")
			return nil
		}
		if t.Codec != o.video.src.Codec {
			return fmt.Errorf("video codec changed mid-stream from %s to %s: reconnect the encoder", o.video.src.Codec, t.Codec)
		}
		o.video.src = t
		o.video.params = parameterSets(t)
	case media.KindAudio:
		if o.audio == nil {
			o.s.log.Infow("ignoring an audio track that appeared after the start")
			return nil
		}
		if t.Codec != o.audio.src.Codec {
			return fmt.Errorf("audio codec changed mid-stream from %s to %s: reconnect the encoder", o.audio.src.Codec, t.Codec)
		}
		o.audio.src = t
	}
	return nil
}

// sources returns the current source tracks.
func (o *outputs) sources() (video, audio *media.Track) {
	if o.video != nil {
		video = o.video.src
	}
	if o.audio != nil {
		audio = o.audio.src
	}
	return video, audio
}

// close stops the transcoders (they flush what they hold) and releases
// what the writers hold. It is idempotent; the room is the session's to
// leave.
func (o *outputs) close() {
	o.closeOnce.Do(o.closeOnceFn)
}

func (o *outputs) closeOnceFn() {
	if o.video != nil && o.video.tc != nil {
		if err := o.video.tc.Close(); err != nil {
			o.s.log.Debugw("video transcoder close", "error", err.Error())
		}
	}
	if o.audio != nil && o.audio.tc != nil {
		if err := o.audio.tc.Close(); err != nil {
			o.s.log.Debugw("audio transcoder close", "error", err.Error())
		}
	}
	// The transcoders have flushed into the writers; release what is
	// queued.
	for _, w := range o.vw {
		w.close()
	}
	if o.aw != nil {
		o.aw.close()
	}
}

// reportInput refreshes the input state with measured bitrates.
func (o *outputs) reportInput() {
	now := o.s.clock.Now()
	if v := o.video; v != nil {
		secs := now.Sub(v.since).Seconds()
		st := inputVideoState(v.src)
		if secs > 0 {
			st.AverageBitrate = uint32(float64(v.bytes*8) / secs)
			st.Framerate = float64(v.frames) / secs
		}
		if err := o.s.conf.Reporter.SetInputVideo(st); err != nil {
			o.s.log.Debugw("input video state", "error", err.Error())
		}
	}
	if a := o.audio; a != nil {
		secs := now.Sub(a.since).Seconds()
		st := inputAudioState(a.src)
		if secs > 0 {
			st.AverageBitrate = uint32(float64(a.bytes*8) / secs)
		}
		if err := o.s.conf.Reporter.SetInputAudio(st); err != nil {
			o.s.log.Debugw("input audio state", "error", err.Error())
		}
	}
}

func frameSize(f *media.Frame) int {
	n := 0
	for _, d := range f.Data {
		n += len(d)
	}
	return n
}

func inputVideoState(t *media.Track) *livekit.InputVideoState {
	return &livekit.InputVideoState{MimeType: t.Codec.MimeType(), Width: uint32(t.Width), Height: uint32(t.Height)}
}

func inputAudioState(t *media.Track) *livekit.InputAudioState {
	return &livekit.InputAudioState{MimeType: t.Codec.MimeType(), Channels: uint32(t.Channels), SampleRate: uint32(t.SampleRate)}
}

func (s *Session) reportInput(video, audio *media.Track) {
	if video != nil {
		if err := s.conf.Reporter.SetInputVideo(inputVideoState(video)); err != nil {
			s.log.Warnw("could not record the input video state", err)
		}
	}
	if audio != nil {
		if err := s.conf.Reporter.SetInputAudio(inputAudioState(audio)); err != nil {
			s.log.Warnw("could not record the input audio state", err)
		}
	}
}
