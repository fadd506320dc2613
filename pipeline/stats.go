package pipeline

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/room"
)

// maxStatsLayers bounds the video layers counted per session.
const maxStatsLayers = 4

// Latency samples (livekit_ingress_packet_latency_seconds): one per output
// track at most every latencySampleInterval, as the official worker samples
// its outputs; at most maxLatencySamples wait for DrainLatency.
const (
	latencySampleInterval = 500 * time.Millisecond
	maxLatencySamples     = 256
)

// Track labels of the latency samples, as the official worker names its
// outputs: output.audio, and output.video.<quality> per video layer.
const (
	audioOutputTrack = "output.audio"
	videoOutputTrack = "output.video."
)

type latencySample struct {
	track   string
	latency time.Duration
}

// Stats are a session's media counters, read by the metrics while the
// session runs. The zero value is ready; a nil *Stats counts nothing.
type Stats struct {
	inVideo, inAudio atomic.Int64
	outVideo         [maxStatsLayers]atomic.Int64
	outLayers        atomic.Int32 // highest layer index written + 1
	outAudio         atomic.Int64
	dropped          atomic.Int64
	latency          atomic.Int64 // nanoseconds
	stale            atomic.Int64
	// sheddable is how many top video layers the overload controller may
	// pause (the transcoded layers but the lowest), and shed how many it
	// wants paused.
	sheddable, shed atomic.Int32
	// transcodeDelay returns the release delay of a transcoding session.
	transcodeDelay atomic.Pointer[func() time.Duration]

	// videoTracks are the latency track labels of the video layers, low
	// to high, once the layers are published.
	videoTracks atomic.Pointer[[]string]
	// sampledAt is when each output (0 audio, 1+i video layer i) was last
	// sampled, in Unix nanoseconds.
	sampledAt [maxStatsLayers + 1]atomic.Int64
	samplesMu sync.Mutex
	samples   []latencySample
}

// videoLayers names the video layers for the latency samples.
func (s *Stats) videoLayers(layers []room.VideoLayer) {
	if s == nil {
		return
	}
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = videoOutputTrack + l.Quality.String()
	}
	s.videoTracks.Store(&names)
}

// DrainLatency hands fn the latency samples taken since the last call,
// oldest first: the time from a frame's arrival to its release to the
// room, per output track ("output.audio", "output.video.HIGH", …).
func (s *Stats) DrainLatency(fn func(track string, latency time.Duration)) {
	if s == nil {
		return
	}
	s.samplesMu.Lock()
	samples := s.samples
	s.samples = nil
	s.samplesMu.Unlock()
	for _, l := range samples {
		fn(l.track, l.latency)
	}
}

// sampleLatency keeps d as the latency of an output, at most once every
// latencySampleInterval per output.
func (s *Stats) sampleLatency(layer int, now time.Time, d time.Duration) {
	slot := layer + 1
	if slot < 0 || slot >= len(s.sampledAt) || d < 0 {
		return
	}
	last := s.sampledAt[slot].Load()
	if last != 0 && now.UnixNano()-last < int64(latencySampleInterval) {
		return
	}
	if !s.sampledAt[slot].CompareAndSwap(last, now.UnixNano()) {
		return
	}
	track := audioOutputTrack
	if layer >= 0 {
		track = videoOutputTrack + strconv.Itoa(layer)
		if names := s.videoTracks.Load(); names != nil && layer < len(*names) {
			track = (*names)[layer]
		}
	}
	s.samplesMu.Lock()
	if len(s.samples) >= maxLatencySamples {
		s.samples = append(s.samples[:0], s.samples[1:]...)
	}
	s.samples = append(s.samples, latencySample{track: track, latency: d})
	s.samplesMu.Unlock()
}

// InputBytes returns the bytes received from the source.
func (s *Stats) InputBytes() (video, audio int64) {
	return s.inVideo.Load(), s.inAudio.Load()
}

// OutputBytes returns the bytes sent to the room per video layer (0 is
// the lowest quality, as published) and for audio.
func (s *Stats) OutputBytes() (video []int64, audio int64) {
	n := int(s.outLayers.Load())
	video = make([]int64, n)
	for i := range n {
		video[i] = s.outVideo[i].Load()
	}
	return video, s.outAudio.Load()
}

// DroppedFrames returns the frames dropped because the session could not
// keep up, each counted once where it was dropped for want of room: a
// source frame at the session's input queue or the video transcoder's
// decode queue (with the frames after it up to the next keyframe, which
// cannot be decoded without it), a picture at a layer's encoder queue, an
// encoded frame at an output's queue to the room (or the isolated
// transcoder's pipe back). Frames left out on purpose (the frame-rate cap,
// pictures too old to be worth encoding) are not counted.
func (s *Stats) DroppedFrames() int64 { return s.dropped.Load() }

// AddedLatency returns the latest time between a frame's arrival and its
// release to the room.
func (s *Stats) AddedLatency() time.Duration { return time.Duration(s.latency.Load()) }

// TranscodeDelay returns the release delay in force of a transcoding
// session (false when the session does not transcode).
func (s *Stats) TranscodeDelay() (time.Duration, bool) {
	if s == nil {
		return 0, false
	}
	if f := s.transcodeDelay.Load(); f != nil {
		return (*f)(), true
	}
	return 0, false
}

func (s *Stats) setTranscodeDelay(f func() time.Duration) {
	if s != nil {
		s.transcodeDelay.Store(&f)
	}
}

func (s *Stats) input(f *media.Frame) { s.AddInput(f.Track.Kind, frameSize(f)) }

// AddInput counts n bytes of media received from the source (for a
// strategy that sees packets rather than frames).
func (s *Stats) AddInput(kind media.Kind, n int) {
	if s == nil {
		return
	}
	if kind == media.KindVideo {
		s.inVideo.Add(int64(n))
	} else {
		s.inAudio.Add(int64(n))
	}
}

// SheddableLayers returns how many top video layers the overload
// controller may pause: the transcoded layers but the lowest, once they
// are published; 0 for a session that forwards the source.
func (s *Stats) SheddableLayers() int { return int(s.sheddable.Load()) }

// ShedLayers asks the session to pause its n top video layers (0 resumes
// them all). The session applies it with the next source frame.
func (s *Stats) ShedLayers(n int) { s.shed.Store(int32(max(n, 0))) }

func (s *Stats) setSheddable(n int) {
	if s != nil {
		s.sheddable.Store(int32(max(n, 0)))
	}
}

func (s *Stats) shedCount() int {
	if s == nil {
		return 0
	}
	return int(s.shed.Load())
}

// LatePictures returns the decoded pictures the video transcoder skipped
// as too old to encode: not dropped for want of room, but a sign, like
// dropped frames, that the session is behind its source.
func (s *Stats) LatePictures() int64 { return s.stale.Load() }

func (s *Stats) skipStale() {
	if s != nil {
		s.stale.Add(1)
	}
}

func (s *Stats) drop() {
	if s != nil {
		s.dropped.Add(1)
	}
}

// output counts a frame released to the room; layer is -1 for audio.
func (s *Stats) output(layer int, f *media.Frame) {
	if s == nil {
		return
	}
	s.AddOutput(layer, frameSize(f))
	if !f.Wall.IsZero() {
		now := time.Now()
		d := now.Sub(f.Wall)
		s.latency.Store(int64(d))
		s.sampleLatency(layer, now, d)
	}
}

// AddOutput counts n bytes of media sent to the room on a video layer (0
// is the lowest quality, as published) or, with layer -1, the audio track
// (for a strategy that sends packets rather than frames).
func (s *Stats) AddOutput(layer int, n int) {
	if s == nil {
		return
	}
	switch {
	case layer < 0:
		s.outAudio.Add(int64(n))
	case layer < maxStatsLayers:
		s.outVideo[layer].Add(int64(n))
		for {
			cur := s.outLayers.Load()
			if int32(layer) < cur || s.outLayers.CompareAndSwap(cur, int32(layer)+1) {
				break
			}
		}
	}
}
