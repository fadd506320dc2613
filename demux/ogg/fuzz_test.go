package ogg

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
)

// fuzzSeedSize bounds the seeds: the header pages and the first audio
// pages.
const fuzzSeedSize = 4 * 1024

// FuzzDemuxer feeds Ogg streams through Run with the page CRC check off
// (the fuzzer would rarely get past it), seeded with the start of every
// case of the table and the refused FLAC file.
func FuzzDemuxer(f *testing.F) {
	demuxtest.SeedFuzz(f, cases, demuxtest.Prefix(fuzzSeedSize))
	f.Add(demuxtest.ReadTestdata(f, "flac.ogg"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := demuxtest.FuzzOne(t, in, func(in []byte) (*demuxed, error) { return demuxInput(in, true) })
		checkInvariants(t, r)
		for _, tr := range r.Tracks {
			require.Positive(t, tr.ClockRate)
			require.Positive(t, tr.Channels)
			require.NotEmpty(t, tr.Config)
		}
	})
}

// BenchmarkRun measures a whole Opus file: per packet, one allocation for
// the frame and one for its bytes.
func BenchmarkRun(b *testing.B) {
	demuxtest.BenchmarkFile(b, "opus_stereo.ogg", func(in []byte) error {
		return demuxtest.RunBytes(&Demuxer{OnTrack: demuxtest.DiscardTrack, OnFrame: demuxtest.DiscardFrame}, in)
	})
}
