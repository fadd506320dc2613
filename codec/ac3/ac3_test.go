package ac3

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The files are ffmpeg's (testdata/gen.sh): 0.2 s of a tone.
func TestSplitFrames(t *testing.T) {
	for _, c := range []struct {
		file           string
		eac3           bool
		rate, channels int
		samples, units int
	}{
		{"stereo.ac3", false, 48000, 2, 1536, 7},
		{"surround_44k.ac3", false, 44100, 6, 1536, 6},
		{"stereo.eac3", true, 48000, 2, 1536, 7},
		{"surround.eac3", true, 48000, 6, 1536, 7},
	} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + c.file)
			require.NoError(t, err)
			units, heads, err := SplitFrames(data)
			require.NoError(t, err)
			require.Len(t, heads, len(units))
			require.Len(t, units, c.units, "as many as ffprobe counts")
			total := 0
			for i, u := range units {
				h := heads[i]
				require.Equal(t, c.eac3, h.EAC3)
				require.Equal(t, c.rate, h.SampleRate)
				require.Equal(t, c.channels, h.Channels)
				require.Equal(t, c.samples, h.Samples)
				require.Len(t, u, h.Size)
				total += len(u)
			}
			require.Equal(t, len(data), total)
		})
	}
}

func TestDependentSubstream(t *testing.T) {
	data, err := os.ReadFile("testdata/surround.eac3")
	require.NoError(t, err)
	h, err := ParseFrameHeader(data)
	require.NoError(t, err)
	frame := data[:h.Size]
	// The same frame marked as a dependent substream (strmtyp 1) joins
	// the unit of the independent frame before it.
	dep := bytes.Clone(frame)
	dep[2] = dep[2]&0x3f | 0x40
	units, heads, err := SplitFrames(append(append(bytes.Clone(frame), dep...), frame...))
	require.NoError(t, err)
	require.Len(t, units, 2)
	require.Len(t, heads, 2)
	require.Len(t, units[0], 2*h.Size)
	_, _, err = SplitFrames(dep)
	require.Error(t, err, "a dependent substream alone")
}

func TestErrors(t *testing.T) {
	data, err := os.ReadFile("testdata/stereo.ac3")
	require.NoError(t, err)
	_, _, err = SplitFrames(data[:len(data)-1])
	require.Error(t, err, "a truncated last frame")
	_, _, err = SplitFrames(nil)
	require.ErrorIs(t, err, ErrNotAC3)
	_, err = ParseFrameHeader([]byte{0x0b, 0x77, 0, 0, 0xc0, 0x40, 0, 0})
	require.Error(t, err, "reserved fscod")
	_, err = ParseFrameHeader([]byte{0x0b, 0x77, 0, 0, 0x3f, 0x40, 0, 0})
	require.Error(t, err, "frmsizecod out of the table")
}

// FuzzSplitFrames: any input either fails or splits into units that cover
// it exactly, each within MaxFrameSize per frame.
func FuzzSplitFrames(f *testing.F) {
	for _, name := range []string{"stereo.ac3", "surround_44k.ac3", "stereo.eac3", "surround.eac3"} {
		data, err := os.ReadFile("testdata/" + name)
		require.NoError(f, err)
		f.Add(data[:min(len(data), 3000)])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		units, heads, err := SplitFrames(in)
		if err != nil {
			return
		}
		require.Len(t, heads, len(units))
		total := 0
		for i, u := range units {
			require.GreaterOrEqual(t, len(u), heads[i].Size)
			require.LessOrEqual(t, heads[i].Size, MaxFrameSize)
			require.Positive(t, heads[i].SampleRate)
			require.Positive(t, heads[i].Channels)
			require.Positive(t, heads[i].Samples)
			total += len(u)
		}
		require.Equal(t, len(in), total)
	})
}
