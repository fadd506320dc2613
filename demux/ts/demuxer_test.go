package ts

import (
	"bytes"
	"context"
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

// demuxed is everything a Demuxer emitted.
type demuxed struct {
	tracks  []*media.Track
	frames  []*media.Frame
	splices []SpliceInsert
	// splicesAfter[i] is the number of frames emitted before splices[i].
	splicesAfter []int
	stats        Stats
}

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

func newCollector(r *demuxed) *Demuxer {
	return &Demuxer{
		OnTrack: func(t *media.Track) error { r.tracks = append(r.tracks, t); return nil },
		OnFrame: func(f *media.Frame) error { r.frames = append(r.frames, f); return nil },
		OnSCTE35: func(s SpliceInsert) error {
			r.splices = append(r.splices, s)
			r.splicesAfter = append(r.splicesAfter, len(r.frames))
			return nil
		},
	}
}

// demuxBytes runs one Demuxer over consecutive inputs.
func demuxBytes(inputs ...[]byte) (*demuxed, error) {
	r := &demuxed{}
	d := newCollector(r)
	if err := d.Initialize(); err != nil {
		return r, err
	}
	for _, in := range inputs {
		if err := d.Run(context.Background(), bytes.NewReader(in)); err != nil {
			r.stats = d.Stats()
			return r, err
		}
	}
	r.stats = d.Stats()
	return r, nil
}

// dump renders a golden text trace of tracks, frames and splices.
func (r *demuxed) dump() string {
	var b strings.Builder
	for _, t := range r.tracks {
		fmt.Fprintf(&b, "track id=%d %s %s clock=%d size=%dx%d rate=%d channels=%d config=%x\n",
			t.ID, t.Kind, t.Codec, t.ClockRate, t.Width, t.Height, t.SampleRate, t.Channels, t.Config)
	}
	si := 0
	for i, f := range r.frames {
		for ; si < len(r.splices) && r.splicesAfter[si] == i; si++ {
			dumpSplice(&b, r.splices[si])
		}
		key := "-"
		if f.Key {
			key = "K"
		}
		fmt.Fprintf(&b, "%s %d %s dts=%d pts=%d %s", f.Track.Kind.String()[:1], f.Track.ID, f.Track.Codec, f.DTS, f.PTS, key)
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
	for ; si < len(r.splices); si++ {
		dumpSplice(&b, r.splices[si])
	}
	s := r.stats
	fmt.Fprintf(&b, "stats packets=%d video=%d audio=%d dropped_before_config=%d dropped_no_ts=%d decode_errors=%d skipped=%d splices=%d discontinuities=%d\n",
		s.Packets, s.VideoFrames, s.AudioFrames, s.DroppedBeforeConfig, s.DroppedNoTimestamp, s.DecodeErrors, s.SkippedStreams, s.SpliceInserts, s.Discontinuities)
	return b.String()
}

func dumpSplice(b *strings.Builder, s SpliceInsert) {
	fmt.Fprintf(b, "scte35 event=%d cancel=%v out=%v immediate=%v pts=%d duration=%d auto_return=%v program=%d avail=%d/%d\n",
		s.EventID, s.Cancel, s.OutOfNetwork, s.Immediate, s.PTS, s.Duration, s.AutoReturn, s.UniqueProgramID, s.AvailNum, s.AvailsExpected)
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

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// checkInvariants holds for any demuxed stream, real or fuzzed.
func checkInvariants(t testing.TB, r *demuxed) {
	t.Helper()
	announced := map[*media.Track]bool{}
	for _, tr := range r.tracks {
		require.False(t, announced[tr], "track announced twice")
		announced[tr] = true
		require.Equal(t, tr.Kind, tr.Codec.Kind())
		require.Positive(t, tr.ClockRate)
		if tr.Kind == media.KindAudio {
			require.Equal(t, tr.SampleRate, tr.ClockRate)
			require.Positive(t, tr.Channels)
		} else {
			require.Equal(t, VideoClockRate, tr.ClockRate)
			require.NotEmpty(t, tr.Config)
		}
	}
	for i, f := range r.frames {
		require.True(t, announced[f.Track], "frame %d before its track", i)
		require.NotEmpty(t, f.Data, "frame %d", i)
		for _, u := range f.Data {
			require.NotEmpty(t, u, "frame %d", i)
		}
		if f.Track.Kind == media.KindAudio {
			require.True(t, f.Key)
			require.Equal(t, f.DTS, f.PTS)
		}
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
