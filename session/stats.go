package session

import (
	"sync/atomic"
	"time"

	"github.com/tributary-ingress/tributary/media"
)

// maxStatsLayers bounds the video layers counted per session.
const maxStatsLayers = 4

// Stats are a session's media counters, read by the metrics while the
// session runs. The zero value is ready; a nil *Stats counts nothing.
type Stats struct {
	inVideo, inAudio atomic.Int64
	outVideo         [maxStatsLayers]atomic.Int64
	outLayers        atomic.Int32 // highest layer index written + 1
	outAudio         atomic.Int64
	dropped          atomic.Int64
	latency          atomic.Int64 // nanoseconds
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

// DroppedFrames returns the source frames dropped because the session
// could not keep up.
func (s *Stats) DroppedFrames() int64 { return s.dropped.Load() }

// AddedLatency returns the latest time between a frame's arrival and its
// release to the room.
func (s *Stats) AddedLatency() time.Duration { return time.Duration(s.latency.Load()) }

func (s *Stats) input(f *media.Frame) {
	if s == nil {
		return
	}
	if f.Track.Kind == media.KindVideo {
		s.inVideo.Add(int64(frameSize(f)))
	} else {
		s.inAudio.Add(int64(frameSize(f)))
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
	n := int64(frameSize(f))
	switch {
	case layer < 0:
		s.outAudio.Add(n)
	case layer < maxStatsLayers:
		s.outVideo[layer].Add(n)
		for {
			cur := s.outLayers.Load()
			if int32(layer) < cur || s.outLayers.CompareAndSwap(cur, int32(layer)+1) {
				break
			}
		}
	}
	if !f.Wall.IsZero() {
		s.latency.Store(int64(time.Since(f.Wall)))
	}
}
