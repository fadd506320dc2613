package ts

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// The SCTE-35 test muxes splice_info_sections built here (ANSI/SCTE 35
// section 9.6, CRC32/MPEG-2) into the ffmpeg-made h264_bf2_aac.ts: the PMT
// is rewritten to declare a PID of stream_type 0x86, and the sections go
// out on it as TS packets before chosen video access units.

const testSCTE35PID = 0x1f0

func tsPID(pkt []byte) uint16 { return uint16(pkt[1]&0x1f)<<8 | uint16(pkt[2]) }

// splitPackets cuts a TS into its packets (aliasing in).
func splitPackets(t testing.TB, in []byte) [][]byte {
	require.Zero(t, len(in)%PacketSize)
	var out [][]byte
	for p := 0; p < len(in); p += PacketSize {
		out = append(out, in[p:p+PacketSize])
	}
	return out
}

// pmtPID returns the PMT PID of the first program of the PAT.
func pmtPID(t testing.TB, pkts [][]byte) uint16 {
	for _, p := range pkts {
		if tsPID(p) == 0 {
			_, pl, _, _ := packetPayload(p)
			sec := pl[1+int(pl[0]):]
			return uint16(sec[10]&0x1f)<<8 | uint16(sec[11])
		}
	}
	t.Fatal("no PAT")
	return 0
}

// addSCTE35ToPMT returns a copy of a one-packet PMT with an SCTE-35
// elementary stream appended.
//
// Specification: ITU-T Rec. H.222.0, section 2.4.4.9 (TS_program_map_section).
func addSCTE35ToPMT(t testing.TB, pkt []byte) []byte {
	_, pl, pusi, ok := packetPayload(pkt)
	require.True(t, ok && pusi)
	sec := pl[1+int(pl[0]):]
	n := 3 + (int(sec[1]&0x0f)<<8 | int(sec[2]))
	body := bytes.Clone(sec[:n-4]) // without CRC
	body = append(body, StreamTypeSCTE35, 0xe0|testSCTE35PID>>8, testSCTE35PID&0xff, 0xf0, 0)
	l := len(body) + 4 - 3
	body[1] = body[1]&0xf0 | byte(l>>8)
	body[2] = byte(l)
	body = be32append(body, crc32MPEG2(body))
	out := append(bytes.Clone(pkt[:4]), 0)
	out = append(out, body...)
	require.LessOrEqual(t, len(out), PacketSize)
	for len(out) < PacketSize {
		out = append(out, 0xff)
	}
	require.Equal(t, byte(0x10), out[3]&0x30, "PMT packet without adaptation field")
	return out
}

// sectionPackets carries a section in packets of at most chunk payload
// bytes each, padded with adaptation-field stuffing so that the section
// spans several packets when chunk is small.
func sectionPackets(section []byte, chunk int, cc *byte) [][]byte {
	data := append([]byte{0}, section...) // pointer_field
	var out [][]byte
	for first := true; len(data) > 0; first = false {
		n := min(chunk, len(data), PacketSize-4)
		pkt := []byte{0x47, testSCTE35PID >> 8, testSCTE35PID & 0xff, 0x10 | *cc&0x0f}
		*cc++
		if first {
			pkt[1] |= 0x40
		}
		if pad := PacketSize - 4 - n; pad > 0 {
			pkt[3] |= 0x20
			pkt = append(pkt, byte(pad-1))
			if pad > 1 {
				pkt = append(pkt, 0x00)
				pkt = append(pkt, bytes.Repeat([]byte{0xff}, pad-2)...)
			}
		}
		pkt = append(pkt, data[:n]...)
		data = data[n:]
		out = append(out, pkt)
	}
	return out
}

// videoPESStarts returns the indices of the packets that start a video
// PES, and the raw PTS of each.
func videoPESStarts(pkts [][]byte, videoPID uint16) (idx []int, pts []int64) {
	for i, p := range pkts {
		pid, pl, pusi, _ := packetPayload(p)
		if pid != videoPID || !pusi || len(pl) < 14 || pl[7]&0x80 == 0 {
			continue
		}
		v := int64(pl[9]>>1&7)<<30 | int64(pl[10])<<22 | int64(pl[11]>>1)<<15 | int64(pl[12])<<7 | int64(pl[13]>>1)
		idx = append(idx, i)
		pts = append(pts, v)
	}
	return idx, pts
}

// buildSCTE35 returns h264_bf2_aac.ts with three splice_inserts: an
// out-of-network one timed at video frame 15 (sent before frame 5, in two
// packets, with a pts_adjustment), a cancel of another event, and an
// immediate return (sent before frame 25).
func buildSCTE35(t testing.TB) (ts []byte, outPTSRaw int64) {
	in := readTestdata(t, "h264_bf2_aac.ts")
	pkts := splitPackets(t, in)
	pmt := pmtPID(t, pkts)
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
		insert[idx[c.frame]] = append(insert[idx[c.frame]], sectionPackets(b, c.chunk, &cc)...)
	}
	var res []byte
	for i, p := range pkts {
		for _, q := range insert[i] {
			res = append(res, q...)
		}
		if tsPID(p) == pmt {
			p = addSCTE35ToPMT(t, p)
		}
		res = append(res, p...)
	}
	return res, pts[15]
}

func TestSCTE35InTS(t *testing.T) {
	in, _ := buildSCTE35(t)
	r, err := demuxBytes(in)
	require.NoError(t, err)
	checkGolden(t, "scte35", r.dump())
	checkInvariants(t, r)
	require.Len(t, r.splices, 3)

	video := r.kind(media.KindVideo)
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
	for _, f := range r.frames[:r.splicesAfter[0]] {
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
