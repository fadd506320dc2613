package ts

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// demuxed is everything a Demuxer emitted.
type demuxed struct {
	demuxtest.Collector
	splices []SpliceInsert
	// splicesAfter[i] is the number of frames emitted before splices[i].
	splicesAfter []int
	stats        Stats
}

func newCollector(r *demuxed) *Demuxer {
	return &Demuxer{
		OnTrack: r.OnTrack,
		OnFrame: r.OnFrame,
		OnSCTE35: func(s SpliceInsert) error {
			r.splices = append(r.splices, s)
			r.splicesAfter = append(r.splicesAfter, len(r.Frames))
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

// demuxOne runs a Demuxer over one input.
func demuxOne(in []byte) (*demuxed, error) { return demuxBytes(in) }

// Dump renders a golden text trace of tracks, frames and splices.
func (r *demuxed) Dump() string {
	var b strings.Builder
	for _, t := range r.Tracks {
		demuxtest.WriteTrack(&b, t, demuxtest.ConfigHex)
	}
	si := 0
	for i, f := range r.Frames {
		for ; si < len(r.splices) && r.splicesAfter[si] == i; si++ {
			dumpSplice(&b, r.splices[si])
		}
		demuxtest.WriteFrame(&b, f, demuxtest.LabelKindID)
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

// checkInvariants holds for any demuxed stream, real or fuzzed.
func checkInvariants(t testing.TB, r *demuxed) {
	t.Helper()
	announced := map[*media.Track]bool{}
	for _, tr := range r.Tracks {
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
	for i, f := range r.Frames {
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
