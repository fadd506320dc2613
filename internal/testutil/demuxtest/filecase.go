package demuxtest

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/media"
)

// VideoClockRate is the clock of every demuxer's video tracks.
const VideoClockRate = 90000

// Track is what a FileCase expects of the track of one kind (the kind of
// Codec): its codec, its picture size or sample rate and channels, its
// frame count, and whether its frames are reordered.
type Track struct {
	Codec media.CodecID
	// Width and Height are the picture size of a video track (0 when the
	// input does not say).
	Width, Height int
	// SampleRate (also the clock rate) and Channels of an audio track.
	SampleRate, Channels int
	// Frames is the number of frames of the track.
	Frames int
	// Reordered says that some frame's PTS differs from its DTS
	// (B-frames).
	Reordered bool
}

// Video is the expected track of video codec c, w×h, of n frames.
func Video(c media.CodecID, w, h, n int, reordered bool) Track {
	return Track{Codec: c, Width: w, Height: h, Frames: n, Reordered: reordered}
}

// Audio is the expected track of audio codec c at rate Hz with channels
// channels, of n frames.
func Audio(c media.CodecID, rate, channels, n int) Track {
	return Track{Codec: c, SampleRate: rate, Channels: channels, Frames: n}
}

// FileCase is one real input of a demuxer's tests: a file of testdata
// (written by the package's testdata/gen.sh with ffmpeg or GStreamer) or
// a stream built at test time, and the tracks the demuxer must find in
// it. The same table seeds the package's fuzz target (SeedFuzz).
type FileCase struct {
	// Name names the subtest and the golden dump.
	Name string
	// File is the input's name in testdata, when Input is nil.
	File string
	// Input builds the input, for streams that are not a file.
	Input func(testing.TB) []byte
	// Tracks are the tracks the input holds, one a kind, in any order.
	Tracks []Track
	// Extra is what else a package's check wants to know of the case.
	Extra any
}

// Read returns the case's input.
func (c FileCase) Read(t testing.TB) []byte {
	t.Helper()
	if c.Input != nil {
		return c.Input(t)
	}
	return ReadTestdata(t, c.File)
}

// Demuxed is what RunFileCases reads of a demuxer's result: the tracks and
// frames collected (a type embedding Collector has the method). When the
// result also has a method Dump() string, the dump is compared with the
// golden file testdata/golden/<Name>.txt.
type Demuxed interface {
	Collected() *Collector
}

// Collected returns c.
func (c *Collector) Collected() *Collector { return c }

// RunFileCases runs one subtest a case: it demuxes the input with
// demuxBytes, which must succeed without touching the input; compares the
// golden dump; checks every expected track (codec, clock, size or rate
// and channels, frame count, a keyframe first, reordering) and that there
// are no others, and that DTS never go back within a track; then calls
// check, if not nil, for what only the package knows.
func RunFileCases[R Demuxed](t *testing.T, cases []FileCase, demuxBytes func([]byte) (R, error), check func(t *testing.T, ca FileCase, in []byte, r R)) {
	t.Helper()
	require.NotEmpty(t, cases)
	for _, ca := range cases {
		t.Run(ca.Name, func(t *testing.T) {
			in := ca.Read(t)
			clone := bytes.Clone(in)
			r, err := demuxBytes(in)
			require.NoError(t, err)
			require.Equal(t, clone, in, "input mutated")
			if d, ok := any(r).(interface{ Dump() string }); ok {
				CheckGolden(t, ca.Name, d.Dump())
			}
			CheckTracks(t, r.Collected(), ca.Tracks)
			if check != nil {
				check(t, ca, in, r)
			}
		})
	}
}

// CheckTracks checks that c holds exactly the tracks want describes.
func CheckTracks(t *testing.T, c *Collector, want []Track) {
	t.Helper()
	require.Equal(t, len(want), len(c.Tracks), "tracks")
	for _, w := range want {
		kind := w.Codec.Kind()
		tr := c.KindTrack(kind)
		require.NotNil(t, tr, "no %s track", kind)
		require.Equal(t, w.Codec, tr.Codec, "%s codec", kind)
		frames := c.TrackFrames(tr)
		require.Equal(t, w.Frames, len(frames), "%s frames", kind)
		switch kind {
		case media.KindVideo:
			require.Equal(t, VideoClockRate, tr.ClockRate, "video clock")
			require.Equal(t, w.Width, tr.Width, "width")
			require.Equal(t, w.Height, tr.Height, "height")
			require.True(t, frames[0].Key, "the first video frame is a keyframe")
		case media.KindAudio:
			require.Equal(t, w.SampleRate, tr.SampleRate, "sample rate")
			require.Equal(t, w.SampleRate, tr.ClockRate, "audio clock")
			require.Equal(t, w.Channels, tr.Channels, "channels")
		}
		reordered := false
		for i, f := range frames {
			reordered = reordered || f.PTS != f.DTS
			if i > 0 {
				require.GreaterOrEqual(t, f.DTS, frames[i-1].DTS, "%s frame %d: DTS goes back", kind, i)
			}
		}
		require.Equal(t, w.Reordered, reordered, "%s frames reordered", kind)
	}
}

// SeedFuzz adds the input of every case to f's corpus, passed through
// shrink (if not nil: seeds of a few KiB let the fuzzer explore instead of
// minimizing whole files).
func SeedFuzz(f *testing.F, cases []FileCase, shrink func([]byte) []byte) {
	f.Helper()
	require.NotEmpty(f, cases)
	for _, ca := range cases {
		in := ca.Read(f)
		if shrink != nil {
			in = shrink(in)
		}
		f.Add(in)
	}
}

// Prefix returns a shrink function for SeedFuzz that keeps the first n
// bytes.
func Prefix(n int) func([]byte) []byte {
	return func(in []byte) []byte { return in[:min(len(in), n)] }
}

// FuzzOne demuxes one input of a fuzz target with demuxBytes and checks
// what holds of any input: it is left as it was, and an error is the
// demuxer's refusal of the input (a *demux.Error), never anything else.
// It returns what was demuxed, for the target's own checks.
func FuzzOne[R any](t *testing.T, in []byte, demuxBytes func([]byte) (R, error)) R {
	t.Helper()
	clone := bytes.Clone(in)
	r, err := demuxBytes(in)
	require.Equal(t, clone, in, "input mutated")
	if err != nil {
		require.True(t, demux.IsInputError(err), "unexpected error %v", err)
	}
	return r
}

// CheckFrameSizes checks that no frame carries more than limit bytes.
func CheckFrameSizes(t *testing.T, frames []*media.Frame, limit int) {
	t.Helper()
	for i, f := range frames {
		size := 0
		for _, u := range f.Data {
			size += len(u)
		}
		require.LessOrEqual(t, size, limit, "frame %d", i)
	}
}

// Runner is a demuxer of an io.Reader: every package's Demuxer but
// demux/flv's and demux/mp4's.
type Runner interface {
	Initialize() error
	Run(context.Context, io.Reader) error
}

// RunBytes initializes d and runs it over in.
func RunBytes(d Runner, in []byte) error {
	if err := d.Initialize(); err != nil {
		return err
	}
	return d.Run(context.Background(), bytes.NewReader(in))
}

// DiscardTrack and DiscardFrame are OnTrack and OnFrame callbacks that
// keep nothing, for benchmarks.
func DiscardTrack(*media.Track) error { return nil }

// DiscardFrame: see DiscardTrack.
func DiscardFrame(*media.Frame) error { return nil }

// BenchmarkFile measures run over testdata/<file> b.N times, in bytes/s
// and allocations.
func BenchmarkFile(b *testing.B, file string, run func(in []byte) error) {
	in := ReadTestdata(b, file)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := run(in); err != nil {
			b.Fatal(err)
		}
	}
}
