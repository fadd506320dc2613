package mp4

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// fuzzSeedSize bounds the seeds: the fuzzer minimizes every input that
// finds new coverage, and small seeds let it explore rather than minimize.
// The first bytes of each file hold its moov box (or, for a file with the
// moov at the end, exercise the truncated paths).
const fuzzSeedSize = 8 * 1024

// FuzzDemuxer feeds files through Run and RunFragmented, seeded with the
// start of every case of the table and the whole refused files.
func FuzzDemuxer(f *testing.F) {
	demuxtest.SeedFuzz(f, cases, demuxtest.Prefix(fuzzSeedSize))
	// Whole small files: their moov is at the end.
	for _, name := range []string{"ac3.mp4", "pcm.mov", "mulaw.mov", "alac.m4a"} {
		f.Add(demuxtest.ReadTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, run := range []func([]byte) (*demuxed, error){demuxBytes, demuxStream} {
			r := demuxtest.FuzzOne(t, in, run)
			checkInvariants(t, r.Frames)
			for _, tr := range r.Tracks {
				require.Equal(t, tr.Kind, tr.Codec.Kind())
				require.Positive(t, tr.ClockRate)
				if tr.Kind == media.KindAudio {
					require.Equal(t, tr.SampleRate, tr.ClockRate)
				}
			}
		}
	})
}

// BenchmarkRun measures a whole file through Run: per frame, the frame
// allocation and its own copy of the sample.
func BenchmarkRun(b *testing.B) {
	benchmarkFile(b, "h264_aac_faststart.mp4", func(d *Demuxer, in []byte) error {
		return d.Run(context.Background(), bytes.NewReader(in), int64(len(in)))
	})
}

// BenchmarkRunFragmented measures a fragmented file through RunFragmented.
func BenchmarkRunFragmented(b *testing.B) {
	benchmarkFile(b, "h264_aac_frag.mp4", func(d *Demuxer, in []byte) error {
		return d.RunFragmented(context.Background(), bytes.NewReader(in))
	})
}

func benchmarkFile(b *testing.B, file string, run func(*Demuxer, []byte) error) {
	demuxtest.BenchmarkFile(b, file, func(in []byte) error {
		d := &Demuxer{OnTrack: demuxtest.DiscardTrack, OnFrame: demuxtest.DiscardFrame}
		if err := d.Initialize(); err != nil {
			return err
		}
		return run(d, in)
	})
}

// BenchmarkNewFrame measures the per-frame path for one H.264 sample: one
// allocation for the frame and its NAL unit headers, one for the bytes.
func BenchmarkNewFrame(b *testing.B) {
	tr := &track{t: &media.Track{Codec: media.CodecH264}, lengthSize: 4}
	sample := append([]byte{0, 0, 0, 2, 9, 0xf0, 0, 0, 4, 0}, make([]byte, 1024)...)
	sample[10] = 0x41
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newFrame(tr, sample, true); err != nil {
			b.Fatal(err)
		}
	}
}
