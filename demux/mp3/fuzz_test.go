package mp3

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
)

// fuzzSeedSize bounds the seeds: tags and the first frames.
const fuzzSeedSize = 4 * 1024

// FuzzDemuxer feeds MP3 streams through Run, seeded with the start of
// every case of the table and the refused Layer II file.
func FuzzDemuxer(f *testing.F) {
	demuxtest.SeedFuzz(f, cases, demuxtest.Prefix(fuzzSeedSize))
	f.Add(demuxtest.ReadTestdata(f, "layer2.mp3"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := demuxtest.FuzzOne(t, in, demuxBytes)
		checkInvariants(t, r)
		for _, tr := range r.Tracks {
			require.Positive(t, tr.ClockRate)
			require.Positive(t, tr.Channels)
		}
	})
}

// BenchmarkRun measures a whole CBR file: per frame, one allocation for
// the frame and one for its bytes.
func BenchmarkRun(b *testing.B) {
	demuxtest.BenchmarkFile(b, "cbr_44k.mp3", func(in []byte) error {
		return demuxtest.RunBytes(&Demuxer{OnTrack: demuxtest.DiscardTrack, OnFrame: demuxtest.DiscardFrame}, in)
	})
}
