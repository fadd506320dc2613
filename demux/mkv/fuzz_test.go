package mkv

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
)

// fuzzSeedSize bounds the seeds: the headers, the tracks and the first
// blocks, so that the fuzzer explores instead of minimizing 30 KB files.
const fuzzSeedSize = 6 * 1024

// FuzzDemuxer feeds whole streams, seeded with every case of the table
// cut to fuzzSeedSize.
func FuzzDemuxer(f *testing.F) {
	demuxtest.SeedFuzz(f, cases, demuxtest.Prefix(fuzzSeedSize))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := demuxtest.FuzzOne(t, in, demuxBytes)
		checkInvariants(t, r)
		demuxtest.CheckFrameSizes(t, r.Frames, MaxBlockSize)
		require.LessOrEqual(t, len(r.Tracks), MaxTracks)
	})
}

// BenchmarkDemux measures a whole file: EBML parsing and the per-block
// path (one buffer per block, one frame per laced frame).
func BenchmarkDemux(b *testing.B) {
	demuxtest.BenchmarkFile(b, "h264_bf2_aac.mkv", func(in []byte) error {
		return demuxtest.RunBytes(&Demuxer{OnTrack: demuxtest.DiscardTrack, OnFrame: demuxtest.DiscardFrame}, in)
	})
}

// BenchmarkParseBlock measures splitting one Xiph-laced block.
func BenchmarkParseBlock(b *testing.B) {
	blk := []byte{0x81, 0, 0, flagKeyframe | lacingXiph, 2, 100, 100}
	blk = append(blk, make([]byte, 300)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseBlock(blk, true); err != nil {
			b.Fatal(err)
		}
	}
}
