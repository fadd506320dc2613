package demuxtest

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tributary-ingress/tributary/media"
)

// Collector keeps the tracks and frames a demuxer emits. Its methods are
// OnTrack and OnFrame callbacks; embed it in a package's own result type
// to add what else that demuxer emits.
type Collector struct {
	Tracks []*media.Track
	Frames []*media.Frame
}

// OnTrack appends t.
func (c *Collector) OnTrack(t *media.Track) error {
	c.Tracks = append(c.Tracks, t)
	return nil
}

// OnFrame appends f.
func (c *Collector) OnFrame(f *media.Frame) error {
	c.Frames = append(c.Frames, f)
	return nil
}

// OnTrackOnce is OnTrack refusing a track announced twice.
func (c *Collector) OnTrackOnce(t *media.Track) error {
	if slices.Contains(c.Tracks, t) {
		return fmt.Errorf("track %d announced twice", t.ID)
	}
	return c.OnTrack(t)
}

// OnFrameOfTrack is OnFrame refusing a frame whose track was not
// announced.
func (c *Collector) OnFrameOfTrack(f *media.Frame) error {
	if !slices.Contains(c.Tracks, f.Track) {
		return fmt.Errorf("frame of track %d before OnTrack", f.Track.ID)
	}
	return c.OnFrame(f)
}

// OnFrameAfterTrack is OnFrame refusing a frame before any track was
// announced (for demuxers of one track).
func (c *Collector) OnFrameAfterTrack(f *media.Frame) error {
	if len(c.Tracks) == 0 {
		return errors.New("frame before track")
	}
	return c.OnFrame(f)
}

// KindTrack returns the first track of kind k, or nil.
func (c *Collector) KindTrack(k media.Kind) *media.Track {
	for _, t := range c.Tracks {
		if t.Kind == k {
			return t
		}
	}
	return nil
}

// KindFrames returns the frames of the tracks of kind k.
func (c *Collector) KindFrames(k media.Kind) []*media.Frame {
	var out []*media.Frame
	for _, f := range c.Frames {
		if f.Track.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

// TrackFrames returns the frames of track t.
func (c *Collector) TrackFrames(t *media.Track) []*media.Frame {
	var out []*media.Frame
	for _, f := range c.Frames {
		if f.Track == t {
			out = append(out, f)
		}
	}
	return out
}
