package ts

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/internal/testutil/tstest"
	"github.com/tributary-ingress/tributary/media"
)

// The SCTE-35 test muxes splice_info_sections built here (ANSI/SCTE 35
// section 9.6, CRC32/MPEG-2) into the ffmpeg-made h264_bf2_aac.ts: the PMT
// is rewritten to declare a PID of stream_type 0x86, and the sections go
// out on it as TS packets before chosen video access units.

const testSCTE35PID = 0x1f0

func tsPID(pkt []byte) uint16 { return tstest.PID(pkt) }

// splitPackets cuts a TS into its packets (aliasing in).
func splitPackets(t testing.TB, in []byte) [][]byte {
	pkts, err := tstest.SplitPackets(in)
	require.NoError(t, err)
	return pkts
}

// videoPESStarts returns the indices of the packets that start a video
// PES, and the raw PTS of each.
func videoPESStarts(pkts [][]byte, videoPID uint16) (idx []int, pts []int64) {
	return tstest.PESStarts(pkts, videoPID)
}

// buildSCTE35 returns h264_bf2_aac.ts with three splice_inserts: an
// out-of-network one timed at video frame 15 (sent before frame 5, in two
// packets, with a pts_adjustment), a cancel of another event, and an
// immediate return (sent before frame 25).
func buildSCTE35(t testing.TB) (ts []byte, outPTSRaw int64) {
	in := demuxtest.ReadTestdata(t, "h264_bf2_aac.ts")
	pkts := splitPackets(t, in)
	pmt, err := tstest.PMTPID(pkts)
	require.NoError(t, err)
	idx, pts := videoPESStarts(pkts, 0x100)
	require.Len(t, idx, 30)

	const adj = 1234567
	out := &SpliceInfoSection{PTSAdjustment: adj, CommandType: SpliceCommandInsert, Insert: &SpliceInsert{
		EventID: 42, OutOfNetwork: true, PTS: pts[15], Duration: 30 * 90000, AutoReturn: true,
		UniqueProgramID: 7, AvailNum: 1, AvailsExpected: 2,
	}}
	cancel := &SpliceInfoSection{CommandType: SpliceCommandInsert, Insert: &SpliceInsert{EventID: 41, Cancel: true}}
	back := &SpliceInfoSection{CommandType: SpliceCommandInsert, Insert: &SpliceInsert{
		EventID: 42, Immediate: true, PTS: -1, Duration: -1, UniqueProgramID: 7, AvailNum: 1, AvailsExpected: 2,
	}}
	var cc byte
	insert := map[int][][]byte{}
	for _, c := range []struct {
		frame int
		sec   *SpliceInfoSection
		chunk int
	}{{5, out, 20}, {6, cancel, 184}, {25, back, 184}} {
		b, err := c.sec.Marshal()
		require.NoError(t, err)
		insert[idx[c.frame]] = append(insert[idx[c.frame]], tstest.SectionPackets(testSCTE35PID, b, c.chunk, &cc)...)
	}
	res, err := tstest.Insert(pkts, pmt, StreamTypeSCTE35, testSCTE35PID, insert)
	require.NoError(t, err)
	return res, pts[15]
}

func TestSCTE35InTS(t *testing.T) {
	in, _ := buildSCTE35(t)
	r, err := demuxBytes(in)
	require.NoError(t, err)
	demuxtest.CheckGolden(t, "scte35", r.Dump())
	checkInvariants(t, r)
	require.Len(t, r.splices, 3)

	video := r.KindFrames(media.KindVideo)
	require.Len(t, video, 30)
	// Presentation order: the frame with the 16th PES is video[15].
	outEv := r.splices[0]
	require.Equal(t, uint32(42), outEv.EventID)
	require.True(t, outEv.OutOfNetwork)
	require.False(t, outEv.Immediate)
	require.Equal(t, video[15].PTS, outEv.PTS, "splice time is the PTS of frame 15 on the same timeline")
	require.Equal(t, int64(30*90000), outEv.Duration)
	require.True(t, outEv.AutoReturn)
	require.Equal(t, uint16(7), outEv.UniqueProgramID)
	// Delivered before the frame it announces, after the ones sent before it.
	nVideoBefore := 0
	for _, f := range r.Frames[:r.splicesAfter[0]] {
		if f.Track.Kind == media.KindVideo {
			nVideoBefore++
		}
	}
	require.GreaterOrEqual(t, nVideoBefore, 3)
	require.LessOrEqual(t, nVideoBefore, 5)

	require.Equal(t, SpliceInsert{EventID: 41, Cancel: true, PTS: -1, Duration: -1}, r.splices[1])

	back := r.splices[2]
	require.False(t, back.OutOfNetwork)
	require.True(t, back.Immediate)
	require.Equal(t, int64(-1), back.PTS)
	require.Equal(t, uint64(3), r.stats.SpliceInserts)
}

var spliceCases = []struct {
	name string
	sec  SpliceInfoSection
}{
	{"out_timed", SpliceInfoSection{PTSAdjustment: 1<<33 - 5, CommandType: SpliceCommandInsert, Insert: &SpliceInsert{
		EventID: 1, OutOfNetwork: true, PTS: 100, Duration: 90000 * 60, AutoReturn: true, UniqueProgramID: 3}}},
	{"in_immediate", SpliceInfoSection{CommandType: SpliceCommandInsert, Insert: &SpliceInsert{
		EventID: 0xffffffff, Immediate: true, PTS: -1, Duration: -1}}},
	{"no_time", SpliceInfoSection{Tier: 0xfff, CommandType: SpliceCommandInsert, Insert: &SpliceInsert{
		EventID: 9, PTS: -1, Duration: -1}}},
	{"cancel", SpliceInfoSection{CommandType: SpliceCommandInsert, Insert: &SpliceInsert{EventID: 5, Cancel: true, PTS: -1, Duration: -1}}},
	{"null", SpliceInfoSection{CommandType: SpliceCommandNull}},
}

func TestSpliceInfoSectionRoundTrip(t *testing.T) {
	for _, ca := range spliceCases {
		t.Run(ca.name, func(t *testing.T) {
			b, err := ca.sec.Marshal()
			require.NoError(t, err)
			var got SpliceInfoSection
			require.NoError(t, got.Unmarshal(b))
			require.Equal(t, ca.sec, got)

			b[len(b)-1] ^= 1
			require.ErrorIs(t, got.Unmarshal(b), ErrSCTE35CRC)
		})
	}
}

// TestSpliceInfoSectionSpec decodes the splice_insert example of ANSI/SCTE
// 35 2023, section 14.2 (Table 25: "Splice Insert", base64
// /DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=).
func TestSpliceInfoSectionSpec(t *testing.T) {
	b := []byte{
		0xfc, 0x30, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xf0, 0x14, 0x05, 0x48, 0x00,
		0x00, 0x8f, 0x7f, 0xef, 0xfe, 0x73, 0x69, 0xc0, 0x2e, 0xfe, 0x00, 0x52, 0xcc, 0xf5, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x0a, 0x00, 0x08, 0x43, 0x55, 0x45, 0x49, 0x00, 0x00, 0x01, 0x35, 0x62, 0xdb,
		0xa3, 0x0a,
	}
	var s SpliceInfoSection
	require.NoError(t, s.Unmarshal(b))
	require.Equal(t, &SpliceInsert{
		EventID: 0x4800008f, OutOfNetwork: true, PTS: 0x07369c02e, Duration: 0x00052ccf5, AutoReturn: true,
	}, s.Insert)
}
