package flv

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/media"
)

var update = flag.Bool("update", false, "rewrite the golden dumps in testdata/golden")

// demuxed is everything a Demuxer emitted for one input.
type demuxed struct {
	tracks   []*media.Track
	frames   []*media.Frame
	metadata []*Metadata
	stats    Stats
}

func (r *demuxed) video() []*media.Frame { return r.kind(media.KindVideo) }
func (r *demuxed) audio() []*media.Frame { return r.kind(media.KindAudio) }

func (r *demuxed) kind(k media.Kind) []*media.Frame {
	var out []*media.Frame
	for _, f := range r.frames {
		if f.Track.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

func (r *demuxed) track(k media.Kind) *media.Track {
	for _, t := range r.tracks {
		if t.Kind == k {
			return t
		}
	}
	return nil
}

// demuxBytes runs a Reader over a whole FLV file.
func demuxBytes(data []byte) (*demuxed, error) {
	r := &demuxed{}
	d := &Demuxer{
		OnTrack:    func(t *media.Track) error { r.tracks = append(r.tracks, t); return nil },
		OnFrame:    func(f *media.Frame) error { r.frames = append(r.frames, f); return nil },
		OnMetadata: func(m *Metadata) error { r.metadata = append(r.metadata, m); return nil },
	}
	rd := &Reader{R: bytes.NewReader(data), Demuxer: d}
	if err := rd.Initialize(); err != nil {
		return r, err
	}
	err := rd.ReadAll()
	r.stats = d.Stats()
	return r, err
}

// dump renders a golden text trace of tracks and frames.
func (r *demuxed) dump() string {
	var b strings.Builder
	for _, m := range r.metadata {
		fmt.Fprintf(&b, "metadata %vx%v fps=%v videocodecid=%d audiocodecid=%d audiosamplerate=%v channels=%d encoder=%q\n",
			m.Width, m.Height, m.FrameRate, m.VideoCodecID, m.AudioCodecID, m.AudioSampleRate, m.AudioChannels, m.Encoder)
	}
	for _, t := range r.tracks {
		fmt.Fprintf(&b, "track id=%d %s %s clock=%d size=%dx%d rate=%d channels=%d config=%d bytes\n",
			t.ID, t.Kind, t.Codec, t.ClockRate, t.Width, t.Height, t.SampleRate, t.Channels, len(t.Config))
	}
	for _, f := range r.frames {
		key := "-"
		if f.Key {
			key = "K"
		}
		fmt.Fprintf(&b, "%s %s dts=%d pts=%d %s", f.Track.Kind.String()[:1], f.Track.Codec, f.DTS, f.PTS, key)
		for _, u := range f.Data {
			switch f.Track.Codec {
			case media.CodecH264:
				fmt.Fprintf(&b, " %d:%d", h264.Type(u), len(u))
			case media.CodecH265:
				fmt.Fprintf(&b, " %d:%d", h265.Type(u), len(u))
			default:
				fmt.Fprintf(&b, " %d", len(u))
			}
		}
		b.WriteByte('\n')
	}
	s := r.stats
	fmt.Fprintf(&b, "stats video=%d audio=%d dropped_before_config=%d dropped_empty=%d dropped_other_tracks=%d discontinuities=%d\n",
		s.VideoFrames, s.AudioFrames, s.DroppedBeforeConfig, s.DroppedEmpty, s.DroppedOtherTracks, s.Discontinuities)
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	require.Equal(t, string(want), got)
}
