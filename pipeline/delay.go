package pipeline

import (
	"time"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/room"
)

// Bounds of the adaptive transcode delay of a live session (see
// room.AdaptiveDelay and Config.TranscodeDelay).
//
// The floor keeps the transcode latency within 100 ms of passthrough's
// (the release adds the delay; the rest of the path is passthrough's)
// while leaving room above the work itself: decoding, scaling and
// encoding every layer of a 720p30 picture at the default preset takes
// about 14 ms of CPU (0.41 CPU-s per media-second, benchmarks/RESULTS.md),
// and a 40 ms floor turned a busy machine's scheduling hiccups into late
// pictures and lip-sync events. The ceiling is the fixed budget
// (transcodeDelay): however loaded the machine, the delay is never longer
// than with it.
const (
	minTranscodeDelay = 100 * time.Millisecond
	maxTranscodeDelay = transcodeDelay
)

// releaseDelay returns the pacer's fixed delay and, for a live
// transcoding session without a pinned delay (Config.TranscodeDelay), the
// adaptive one, which reports its value to the metrics and its large moves
// to the log.
func (s *Session) releaseDelay(transcoding bool) (time.Duration, *room.AdaptiveDelay) {
	switch {
	case !transcoding:
		return passthroughDelay, nil
	case s.conf.TranscodeDelay > 0:
		d := s.conf.TranscodeDelay
		s.conf.Stats.setTranscodeDelay(func() time.Duration { return d })
		return d, nil
	case !s.conf.Live:
		s.conf.Stats.setTranscodeDelay(func() time.Duration { return transcodeDelay })
		return transcodeDelay, nil
	}
	a := room.NewAdaptiveDelay(minTranscodeDelay, maxTranscodeDelay)
	a.OnMove = func(d time.Duration, why string) {
		s.log.Debugw("transcode delay moved", "delay", d, "reason", why)
	}
	s.conf.Stats.setTranscodeDelay(a.Current)
	return transcodeDelay, a
}

// observeReady tells the adaptive delay that an output's frame is back
// from its transcoder (layer -1: audio).
func (o *outputs) observeReady(layer int, f *media.Frame) {
	if a := o.pacer.Adaptive; a != nil {
		a.Observe(layer, f.Wall, o.s.clock.Now())
	}
}
