package mp4

import (
	"bytes"
	"context"
	"strings"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
)

// demuxed is everything a Demuxer emitted for one input.
type demuxed struct{ demuxtest.Collector }

// newDemuxer returns a Demuxer that collects into r, and fails on a track
// announced twice or a frame before its track.
func newDemuxer(r *demuxed) *Demuxer {
	return &Demuxer{OnTrack: r.OnTrackOnce, OnFrame: r.OnFrameOfTrack}
}

// demuxBytes runs Run over a whole file in memory.
func demuxBytes(data []byte) (*demuxed, error) {
	r := &demuxed{}
	d := newDemuxer(r)
	if err := d.Initialize(); err != nil {
		return r, err
	}
	return r, d.Run(context.Background(), bytes.NewReader(data), int64(len(data)))
}

// demuxStream runs RunFragmented over a whole file in memory.
func demuxStream(data []byte) (*demuxed, error) {
	r := &demuxed{}
	d := newDemuxer(r)
	if err := d.Initialize(); err != nil {
		return r, err
	}
	return r, d.RunFragmented(context.Background(), bytes.NewReader(data))
}

// Dump renders a golden text trace of tracks and frames.
func (r *demuxed) Dump() string {
	var b strings.Builder
	for _, t := range r.Tracks {
		demuxtest.WriteTrack(&b, t, demuxtest.ConfigHex)
	}
	for _, f := range r.Frames {
		demuxtest.WriteFrame(&b, f, demuxtest.LabelID)
	}
	return b.String()
}
