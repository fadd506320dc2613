package mpeg2

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// splitPictures cuts an elementary stream before every picture start code,
// the headers before a picture going with it.
func splitPictures(es []byte) [][]byte {
	var out [][]byte
	start := 0
	seenPicture := false
	for pos := nextStartCode(es, 0); pos >= 0; pos = nextStartCode(es, pos+3) {
		switch es[pos+3] {
		case StartSequence, StartGOP, StartPicture:
			if seenPicture {
				out = append(out, es[start:pos])
				start = pos
				seenPicture = false
			}
			if es[pos+3] == StartPicture {
				seenPicture = true
			}
		}
	}
	return append(out, es[start:])
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		file           string
		mpeg2          bool
		w, h, num, den int
		pictures       int
	}{
		{"pal.m2v", true, 720, 576, 25, 1, 10},
		{"cif.m1v", false, 352, 288, 30000, 1001, 9},
	} {
		t.Run(c.file, func(t *testing.T) {
			es, err := os.ReadFile("testdata/" + c.file)
			require.NoError(t, err)
			aus := splitPictures(es)
			require.Len(t, aus, c.pictures)
			types := map[int]int{}
			for i, au := range aus {
				info, err := Parse(au)
				require.NoError(t, err, "picture %d", i)
				require.NotZero(t, info.PictureType, "picture %d", i)
				types[info.PictureType]++
				if i == 0 {
					require.True(t, info.Sequence)
					require.Equal(t, PictureI, info.PictureType)
				}
				if !info.Sequence {
					continue
				}
				require.Equal(t, c.mpeg2, info.MPEG2)
				require.Equal(t, c.w, info.Width)
				require.Equal(t, c.h, info.Height)
				require.Equal(t, c.num, info.FrameRateNum)
				require.Equal(t, c.den, info.FrameRateDen)
				require.NotEmpty(t, info.Config)
				require.Equal(t, []byte{0, 0, 1, StartSequence}, info.Config[:4])
			}
			require.Positive(t, types[PictureI])
			require.Positive(t, types[PictureP])
			if c.mpeg2 {
				require.Positive(t, types[PictureB], "B-frames")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse([]byte{1, 2, 3})
	require.ErrorIs(t, err, ErrNoStartCode)
	_, err = Parse([]byte{0, 0, 1, StartSequence, 0x2d})
	require.Error(t, err, "a short sequence header")
	_, err = Parse([]byte{0, 0, 1, StartSequence, 0, 0, 0, 0x13, 0, 0, 0})
	require.Error(t, err, "an empty picture size")
	_, err = Parse([]byte{0, 0, 1, StartPicture, 0})
	require.Error(t, err, "a short picture header")
}

// FuzzParse: any input parses or fails without panicking, within bounds.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"pal.m2v", "cif.m1v"} {
		es, err := os.ReadFile("testdata/" + name)
		require.NoError(f, err)
		aus := splitPictures(es)
		f.Add(aus[0][:min(len(aus[0]), 2000)])
		f.Add(aus[1][:min(len(aus[1]), 2000)])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		info, err := Parse(in)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(info.Config), MaxConfigSize)
		require.Less(t, info.Width, 1<<14)
		require.Less(t, info.Height, 1<<14)
		require.Less(t, info.PictureType, 8)
	})
}
