package flv

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// demuxed is everything a Demuxer emitted for one input.
type demuxed struct {
	demuxtest.Collector
	metadata []*Metadata
	stats    Stats
}

func (r *demuxed) video() []*media.Frame { return r.KindFrames(media.KindVideo) }
func (r *demuxed) audio() []*media.Frame { return r.KindFrames(media.KindAudio) }

// newCollector returns a Demuxer that collects into r.
func newCollector(r *demuxed) *Demuxer {
	return &Demuxer{
		OnTrack:    r.OnTrack,
		OnFrame:    r.OnFrame,
		OnMetadata: func(m *Metadata) error { r.metadata = append(r.metadata, m); return nil },
	}
}

// demuxBytes runs a Reader over a whole FLV file.
func demuxBytes(data []byte) (*demuxed, error) {
	r := &demuxed{}
	d := newCollector(r)
	rd := &Reader{R: bytes.NewReader(data), Demuxer: d}
	if err := rd.Initialize(); err != nil {
		return r, err
	}
	err := rd.ReadAll()
	r.stats = d.Stats()
	return r, err
}

// Dump renders a golden text trace of tracks and frames.
func (r *demuxed) Dump() string {
	var b strings.Builder
	for _, m := range r.metadata {
		fmt.Fprintf(&b, "metadata %vx%v fps=%v videocodecid=%d audiocodecid=%d audiosamplerate=%v channels=%d encoder=%q\n",
			m.Width, m.Height, m.FrameRate, m.VideoCodecID, m.AudioCodecID, m.AudioSampleRate, m.AudioChannels, m.Encoder)
	}
	for _, t := range r.Tracks {
		demuxtest.WriteTrack(&b, t, demuxtest.ConfigSize)
	}
	for _, f := range r.Frames {
		demuxtest.WriteFrame(&b, f, demuxtest.LabelKind)
	}
	s := r.stats
	fmt.Fprintf(&b, "stats video=%d audio=%d dropped_before_config=%d dropped_empty=%d dropped_other_tracks=%d discontinuities=%d\n",
		s.VideoFrames, s.AudioFrames, s.DroppedBeforeConfig, s.DroppedEmpty, s.DroppedOtherTracks, s.Discontinuities)
	return b.String()
}
