package tstest_test

import (
	"bytes"
	"cmp"
	"context"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/internal/testutil/tstest"
	"github.com/tributary-ingress/tributary/media"
)

// TestInsertSection declares an SCTE-35 PID in the PMT of an ffmpeg-made
// TS and carries a section on it: the PMT lists the new stream, and the
// section's packets come back out with a valid CRC_32.
func TestInsertSection(t *testing.T) {
	in, err := os.ReadFile("../../../demux/ts/testdata/h264_bf2_aac.ts")
	require.NoError(t, err)
	pkts, err := tstest.SplitPackets(in)
	require.NoError(t, err)
	pmt, err := tstest.PMTPID(pkts)
	require.NoError(t, err)
	streams, err := tstest.Streams(pkts, pmt)
	require.NoError(t, err)
	require.Equal(t, []tstest.Stream{{Type: 0x1b, PID: 0x100}, {Type: 0x0f, PID: 0x101}}, streams)
	idx, pts := tstest.PESStarts(pkts, 0x100)
	require.Len(t, idx, 30)
	require.Len(t, pts, 30)

	sec, err := (&ts.SpliceInfoSection{CommandType: ts.SpliceCommandInsert, Insert: &ts.SpliceInsert{
		EventID: 7, OutOfNetwork: true, PTS: pts[10], Duration: -1,
	}}).Marshal()
	require.NoError(t, err)
	require.Zero(t, tstest.CRC32MPEG2(sec), "the CRC over a whole section, CRC included, is 0")
	var cc byte
	secPkts := tstest.SectionPackets(0x1f0, sec, 10, &cc)
	require.Len(t, secPkts, (len(sec)+1+9)/10)
	out, err := tstest.Insert(pkts, pmt, tstest.StreamTypeSCTE35, 0x1f0, map[int][][]byte{idx[2]: secPkts})
	require.NoError(t, err)
	require.Len(t, out, len(in)+len(secPkts)*tstest.PacketSize)

	pkts2, err := tstest.SplitPackets(out)
	require.NoError(t, err)
	streams, err = tstest.Streams(pkts2, pmt)
	require.NoError(t, err)
	require.Equal(t, tstest.Stream{Type: tstest.StreamTypeSCTE35, PID: 0x1f0}, streams[len(streams)-1])

	var got []ts.SpliceInsert
	var video []*media.Frame
	d := &ts.Demuxer{
		OnTrack: func(*media.Track) error { return nil },
		OnFrame: func(f *media.Frame) error {
			if f.Track.Kind == media.KindVideo {
				video = append(video, f)
			}
			return nil
		},
		OnSCTE35: func(s ts.SpliceInsert) error { got = append(got, s); return nil },
	}
	require.NoError(t, d.Initialize())
	require.NoError(t, d.Run(context.Background(), bytes.NewReader(out)))
	require.Len(t, got, 1)
	require.Equal(t, uint32(7), got[0].EventID)
	require.True(t, got[0].OutOfNetwork)
	slices.SortFunc(video, func(a, b *media.Frame) int { return cmp.Compare(a.PTS, b.PTS) })
	// PES order is decoding order (the file has B-frames): the splice is
	// timed at the picture of PES 10, wherever it is presented.
	want := video[0].PTS + pts[10] - slices.Min(pts)
	require.Equal(t, want, got[0].PTS, "the splice time is on the frames' rebased timeline")
	require.True(t, slices.ContainsFunc(video, func(f *media.Frame) bool { return f.PTS == want }))
}
