package h264

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// SPS/PPS of real encoders, from demux/flv/testdata (gen.sh).
var (
	// ffmpeg -c:v libx264 -profile:v high -bf 2, 640x360 (coded 640x368).
	spsX264High = mustHex("6764001eacd940a02ff970110000030001000003003c0f162d96")
	// ffmpeg -c:v libx264 -profile:v baseline, 640x360.
	spsX264Baseline = mustHex("6742c01eda0280bfe5c044000003000400000300f03c58ba80")
	// gst-launch-1.0 x264enc, 320x240.
	spsGstX264 = mustHex("6764000dacd94141fb016a0c0c0d4a000003000200000300791e28532c")
	// ffmpeg -c:v libx264 -profile:v main -bf 1, 320x180.
	spsX264Main = mustHex("674d400df60a0cfcf80880000003008000001e078a149c")
	// ffmpeg -c:v libx264 -profile:v high -bf 0 -tune zerolatency, 1280x720
	// at 25 fps: the VUI bitstream restriction says no reordering.
	spsX264HighNoB = mustHex("6764001facb200a00b760220000003002000000651e30649")
	pps            = mustHex("68efbcb0")
)

type spsCase struct {
	name          string
	sps           []byte
	profile       string
	level         string
	width, height int
	fps           float64
	mayB          bool
}

var spsCases = []spsCase{
	{"x264 high", spsX264High, "High", "3.0", 640, 360, 30, true},
	{"x264 baseline", spsX264Baseline, "Constrained Baseline", "3.0", 640, 360, 30, false},
	{"gst x264enc", spsGstX264, "High", "1.3", 320, 240, 30, true},
	{"x264 main", spsX264Main, "Main", "1.3", 320, 180, 30, true},
	{"x264 high no B", spsX264HighNoB, "High", "3.1", 1280, 720, 25, false},
}

func TestParseSPS(t *testing.T) {
	for _, ca := range spsCases {
		t.Run(ca.name, func(t *testing.T) {
			clone := bytes.Clone(ca.sps)
			s, err := ParseSPS(ca.sps)
			require.NoError(t, err)
			require.Equal(t, clone, ca.sps)
			require.Equal(t, ca.profile, s.ProfileName())
			require.Equal(t, ca.level, s.Level())
			require.Equal(t, ca.width, s.Width)
			require.Equal(t, ca.height, s.Height)
			require.Equal(t, ca.fps, s.FrameRate)
			require.Equal(t, ca.mayB, s.MayHaveBFrames())
		})
	}
}

func TestDecoderConfigRoundTrip(t *testing.T) {
	c := DecoderConfig{ProfileIndication: 100, LevelIndication: 30, LengthSize: 4, SPS: [][]byte{spsX264High}, PPS: [][]byte{pps}}
	buf, err := c.Marshal()
	require.NoError(t, err)
	var c2 DecoderConfig
	require.NoError(t, c2.Unmarshal(buf))
	require.Equal(t, c, c2)

	for n := range len(buf) - 1 {
		require.Error(t, c2.Unmarshal(buf[:n]), "truncated to %d", n)
	}
}

func TestAVCCAndAnnexB(t *testing.T) {
	cases := []struct {
		name       string
		au         [][]byte
		lengthSize int
	}{
		{"one", [][]byte{{0x65, 1, 2, 3}}, 4},
		{"params and slice", [][]byte{spsX264High, pps, {0x65, 0x88, 0x84}}, 4},
		{"2-byte lengths", [][]byte{{0x09, 0xf0}, {0x41, 0x9a}}, 2},
		{"1-byte lengths", [][]byte{{0x41, 0x9a, 0, 0, 0}}, 1},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			var buf []byte
			for _, n := range ca.au {
				l := len(n)
				for i := ca.lengthSize - 1; i >= 0; i-- {
					buf = append(buf, byte(l>>(8*i)))
				}
				buf = append(buf, n...)
			}
			got, err := SplitAVCC(buf, ca.lengthSize)
			require.NoError(t, err)
			require.Equal(t, ca.au, got)
			if ca.lengthSize == 4 {
				re, err := JoinAVCC(got)
				require.NoError(t, err)
				require.Equal(t, buf, re)
			}
			ab := JoinAnnexB(ca.au)
			require.Len(t, ab, AnnexBSize(ca.au))
			got, err = SplitAnnexB(ab)
			require.NoError(t, err)
			require.Equal(t, ca.au, got)
		})
	}
	_, err := SplitAVCC([]byte{0, 0, 0, 0}, 4)
	require.ErrorIs(t, err, ErrNoNALUs)
	_, err = SplitAVCC([]byte{0, 0, 0, 9, 1}, 4)
	require.Error(t, err)
	_, err = SplitAVCC([]byte{0, 1, 1}, 3)
	require.Error(t, err)
}

func TestSliceTypeAndBFrames(t *testing.T) {
	// first_mb_in_slice = 0 ('1'), slice_type ue: P=0 '1', B=1 '010', I=7 '0001000'.
	pSlice := []byte{0x41, 0b11000000}
	bSlice := []byte{0x41, 0b10100000}
	iSlice := []byte{0x65, 0b10001000}
	for _, ca := range []struct {
		nalu []byte
		want SliceType
	}{{pSlice, SliceP}, {bSlice, SliceB}, {iSlice, SliceI}} {
		st, err := ParseSliceType(ca.nalu)
		require.NoError(t, err)
		require.Equal(t, ca.want, st)
	}
	_, err := ParseSliceType(spsX264High)
	require.Error(t, err)

	cases := []struct {
		name   string
		frames [][3]any // au, pts, dts
		want   bool
	}{
		{"IPPP", [][3]any{{iSlice, 0, 0}, {pSlice, 3000, 3000}, {pSlice, 6000, 6000}}, false},
		{"constant offset", [][3]any{{iSlice, 6000, 0}, {pSlice, 9000, 3000}}, false},
		{"B slice", [][3]any{{iSlice, 0, 0}, {bSlice, 3000, 3000}}, true},
		{"reordered", [][3]any{{iSlice, 3000, 0}, {pSlice, 12000, 3000}, {pSlice, 6000, 6000}}, true},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			var d BFrameDetector
			for _, f := range ca.frames {
				d.Observe([][]byte{f[0].([]byte)}, int64(f[1].(int)))
			}
			require.Equal(t, ca.want, d.Detected())
		})
	}
	require.True(t, IsKeyframe([][]byte{{}, spsX264High, iSlice}))
	require.False(t, IsKeyframe([][]byte{pSlice}))
}

func FuzzParseSPS(f *testing.F) {
	for _, ca := range spsCases {
		f.Add(ca.sps)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSPS(b)
		if err != nil {
			return
		}
		require.Positive(t, s.Width)
		require.Positive(t, s.Height)
		require.LessOrEqual(t, s.Width, MaxDimension)
		require.LessOrEqual(t, s.Height, MaxDimension)
		require.GreaterOrEqual(t, s.FrameRate, 0.0)
		_ = s.ProfileName()
		_ = s.Level()
		_ = s.MayHaveBFrames()
	})
}

func FuzzDecoderConfig(f *testing.F) {
	c := DecoderConfig{ProfileIndication: 100, LevelIndication: 30, LengthSize: 4, SPS: [][]byte{spsX264High}, PPS: [][]byte{pps}}
	buf, _ := c.Marshal()
	f.Add(buf)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c DecoderConfig
		if c.Unmarshal(b) != nil {
			return
		}
		require.NotEmpty(t, c.SPS)
		require.NotEmpty(t, c.PPS)
		re, err := c.Marshal()
		require.NoError(t, err)
		var c2 DecoderConfig
		require.NoError(t, c2.Unmarshal(re))
		require.Equal(t, c, c2)
	})
}

func FuzzSplitAVCC(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41}, 4)
	f.Add([]byte{0, 2, 0x65, 1}, 2)
	f.Fuzz(func(t *testing.T, b []byte, lengthSize int) {
		au, err := SplitAVCC(b, lengthSize)
		if err != nil {
			return
		}
		require.NotEmpty(t, au)
		size := 0
		for _, n := range au {
			require.NotEmpty(t, n)
			size += lengthSize + len(n)
		}
		require.LessOrEqual(t, size, len(b))
	})
}

func FuzzParseSliceType(f *testing.F) {
	f.Add([]byte{0x41, 0b10100000})
	f.Add([]byte{0x65, 0, 0, 3, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseSliceType(b)
		if err == nil {
			require.LessOrEqual(t, st, SliceSI)
		}
	})
}
