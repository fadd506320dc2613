package e2e

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The timeline of a subscribed video track: every picture as it arrived,
// with the resolution it had, so a test can check a whole run (frame rate
// in every second, resolution of every picture, latency that never grows)
// instead of a sample at the end.

// maxTimelinePictures bounds the pictures kept per track (about 10 min at
// 60 fps).
const maxTimelinePictures = 36_000

// Picture is one received picture of a video track, or one frame of an
// audio track (no size; RTPTime on the track's clock, 48 kHz for Opus).
type Picture struct {
	// Arrival is the wall-clock time the picture's first packet arrived.
	Arrival time.Time
	// RTPTime is the picture's RTP timestamp, unwrapped (the SFU keeps one
	// timeline across layer switches).
	RTPTime int64
	// Width and Height are the bitstream resolution in force: the last
	// SPS or VP8 keyframe header received at or before this picture.
	Width, Height int
	// Key reports an IDR or VP8 keyframe.
	Key bool
}

// timeline records the pictures of one track (serialized by the
// Subscriber's mutex).
type timeline struct {
	pictures []Picture
	unwrap   int64 // RTP timestamp, unwrapped, of the last picture
	haveTS   bool
	lastTS   uint32
}

// add records a picture (or updates the last one when the same frame
// brings its resolution or keyframe flag later).
func (tl *timeline) add(ts uint32, arrival time.Time, w, h int, key, sameFrame bool) {
	if sameFrame && len(tl.pictures) > 0 {
		p := &tl.pictures[len(tl.pictures)-1]
		p.Width, p.Height = w, h
		p.Key = p.Key || key
		return
	}
	if len(tl.pictures) >= maxTimelinePictures {
		return
	}
	if tl.haveTS {
		tl.unwrap += int64(int32(ts - tl.lastTS))
	}
	tl.haveTS, tl.lastTS = true, ts
	tl.pictures = append(tl.pictures, Picture{Arrival: arrival, RTPTime: tl.unwrap, Width: w, Height: h, Key: key})
}

// Timeline returns the pictures received on a video track so far (H.264
// and VP8, whose headers the subscriber parses).
func (s *Subscriber) Timeline(trackSID string) []Picture {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tracks[trackSID]
	if !ok {
		return nil
	}
	return append([]Picture(nil), e.rec.timeline.pictures...)
}

// IsBlankFrame reports LiveKit's blank keyframes: when a published track
// ends (or is muted) the SFU sends its subscribers a few 2x2 keyframes of
// its own (livekit-server pkg/sfu/downtrack.go, H264KeyFrame2x2), so a
// player's last picture is black. They are not the publisher's pictures.
func IsBlankFrame(p Picture) bool { return p.Width == 2 && p.Height == 2 }

// Second is one second of a timeline.
type Second struct {
	// Start is the second's start, from the first picture.
	Start time.Duration
	// Pictures is the number of pictures that arrived in it.
	Pictures int
	// Sizes are the distinct resolutions seen, in order ("320x180").
	Sizes []string
	// Lag is the latency of the second's last picture relative to the
	// timeline's lowest: its arrival minus its RTP time, less the same for
	// the picture that arrived most promptly over the whole run. A lag
	// that keeps growing is a queue filling up somewhere.
	Lag time.Duration
}

// Seconds cuts a timeline into seconds from its first picture, for a
// clock rate in Hz. Pictures before from (a time offset from the first
// picture) are left out, and so are LiveKit's blank frames.
func Seconds(pics []Picture, clockRate int, from time.Duration) []Second {
	pics = slices.DeleteFunc(slices.Clone(pics), IsBlankFrame)
	if len(pics) == 0 {
		return nil
	}
	t0 := pics[0].Arrival
	// Latency up to a constant: arrival − RTP time.
	lat := func(p Picture) time.Duration {
		return p.Arrival.Sub(t0) - time.Duration(float64(p.RTPTime-pics[0].RTPTime)/float64(clockRate)*float64(time.Second))
	}
	low := lat(pics[0])
	for _, p := range pics {
		low = min(low, lat(p))
	}
	var out []Second
	for _, p := range pics {
		at := p.Arrival.Sub(t0)
		if at < from {
			continue
		}
		i := int((at - from) / time.Second)
		for len(out) <= i {
			out = append(out, Second{Start: from + time.Duration(len(out))*time.Second})
		}
		sec := &out[i]
		sec.Pictures++
		size := fmt.Sprintf("%dx%d", p.Width, p.Height)
		if len(sec.Sizes) == 0 || sec.Sizes[len(sec.Sizes)-1] != size {
			sec.Sizes = append(sec.Sizes, size)
		}
		sec.Lag = lat(p) - low
	}
	return out
}

// FormatSeconds prints a timeline's seconds for a test log, one per line.
func FormatSeconds(secs []Second) string {
	var b strings.Builder
	for _, s := range secs {
		fmt.Fprintf(&b, "  %5.1fs %3d pictures %s lag %v\n", s.Start.Seconds(), s.Pictures,
			strings.Join(s.Sizes, ","), s.Lag.Round(time.Millisecond))
	}
	return b.String()
}
