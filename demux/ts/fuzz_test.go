package ts

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// fuzzSeedPackets bounds the seeds: the PAT, the PMT and the first access
// units fit, and the fuzzer does not spend its time minimizing 40 KB files.
const fuzzSeedPackets = 48

func fuzzSeed(in []byte) []byte {
	return in[:min(len(in), fuzzSeedPackets*PacketSize)]
}

// FuzzDemuxer feeds whole streams, seeded with every case of the table and
// the SCTE-35 stream, cut to fuzzSeedPackets packets.
func FuzzDemuxer(f *testing.F) {
	demuxtest.SeedFuzz(f, cases, fuzzSeed)
	scte, _ := buildSCTE35(f)
	pkts := splitPackets(f, scte)
	var seed []byte
	for _, p := range pkts {
		if pid := tsPID(p); pid == 0 || pid == 0x1000 || pid == testSCTE35PID {
			seed = append(seed, p...)
		}
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		r := demuxtest.FuzzOne(t, in, demuxOne)
		checkInvariants(t, r)
		for _, fr := range r.Frames {
			size := 0
			for _, u := range fr.Data {
				size += len(u)
			}
			require.LessOrEqual(t, size, MaxPESSize)
			if fr.Track.Kind == media.KindVideo {
				require.LessOrEqual(t, fr.Track.Width, 16384)
				require.LessOrEqual(t, fr.Track.Height, 16384)
			}
		}
		for _, s := range r.splices {
			require.GreaterOrEqual(t, s.Duration, int64(-1))
			require.Less(t, s.Duration, int64(wrapPeriod))
			if s.Immediate || s.Cancel {
				require.Equal(t, int64(-1), s.PTS)
			}
		}
	})
}

// FuzzSCTE35 checks that any section Unmarshal accepts re-marshals to the
// same values.
func FuzzSCTE35(f *testing.F) {
	for _, ca := range spliceCases {
		b, err := ca.sec.Marshal()
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s SpliceInfoSection
		if s.Unmarshal(in) != nil || s.Encrypted {
			return
		}
		if in := s.Insert; in != nil {
			require.GreaterOrEqual(t, in.PTS, int64(-1))
			require.Less(t, in.PTS, int64(wrapPeriod))
			require.GreaterOrEqual(t, in.Duration, int64(-1))
			require.Less(t, in.Duration, int64(wrapPeriod))
		}
		b, err := s.Marshal()
		require.NoError(t, err)
		var again SpliceInfoSection
		require.NoError(t, again.Unmarshal(b))
		require.Equal(t, s, again)
	})
}

// BenchmarkDemux measures a whole file: the per-frame path (PES to frame)
// plus astits's packet handling.
func BenchmarkDemux(b *testing.B) {
	demuxtest.BenchmarkFile(b, "h264_bf2_aac.ts", func(in []byte) error {
		return demuxtest.RunBytes(&Demuxer{OnTrack: demuxtest.DiscardTrack, OnFrame: demuxtest.DiscardFrame}, in)
	})
}

// BenchmarkSpliceInfoSection measures parsing one splice_insert.
func BenchmarkSpliceInfoSection(b *testing.B) {
	buf, err := spliceCases[0].sec.Marshal()
	require.NoError(b, err)
	b.ReportAllocs()
	var s SpliceInfoSection
	for b.Loop() {
		if err := s.Unmarshal(buf); err != nil {
			b.Fatal(err)
		}
	}
}
