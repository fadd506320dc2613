package h265

import (
	"encoding/hex"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
)

// HEVCDecoderConfigurationRecord as the Enhanced RTMP test in demux/flv
// builds it from x265 output (testdata/hevc.h265: 320x180, 30 fps).
func testRecord(t testing.TB) []byte {
	vps, _ := hex.DecodeString("40010c01ffff016000000300900000030000030000995940")
	b := make([]byte, 23)
	b[0], b[1], b[12], b[21], b[22] = 1, 1, 60, 0x0f, 2
	b = append(b, 0x80|32, 0, 1, 0, byte(len(vps)))
	b = append(b, vps...)
	pps, _ := hex.DecodeString("4401c172b46240")
	b = append(b, 0x80|34, 0, 1, 0, byte(len(pps)))
	return append(b, pps...)
}

func TestDecoderConfigNoSPS(t *testing.T) {
	var c DecoderConfig
	require.EqualError(t, c.Unmarshal(testRecord(t)), "HEVCDecoderConfigurationRecord has no SPS")
	b := testRecord(t)
	for n := range len(b) - 1 {
		require.Error(t, c.Unmarshal(b[:n]))
	}
}

func TestIsKeyframe(t *testing.T) {
	cases := []struct {
		name string
		au   [][]byte
		want bool
	}{
		{"IDR_W_RADL", [][]byte{{19 << 1, 1}}, true},
		{"CRA", [][]byte{{21 << 1, 1}}, true},
		{"BLA_W_LP", [][]byte{{16 << 1, 1}}, true},
		{"TRAIL_R", [][]byte{{1 << 1, 1}}, false},
		{"empty", [][]byte{{}}, false},
	}
	for _, ca := range cases {
		require.Equal(t, ca.want, IsKeyframe(ca.au), ca.name)
	}
}

func FuzzDecoderConfig(f *testing.F) {
	f.Add(testRecord(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c DecoderConfig
		if c.Unmarshal(b) != nil {
			return
		}
		require.NotEmpty(t, c.SPS)
		require.Contains(t, []int{1, 2, 4}, c.LengthSize)
		for _, ps := range append(append(c.VPS, c.SPS...), c.PPS...) {
			require.GreaterOrEqual(t, len(ps), 2)
		}
	})
}

func FuzzParseSPS(f *testing.F) {
	// The SPS of decoder_config_marshal_test.go and every SPS of the
	// Enhanced RTMP fixture (x265 output), whole and cut in half.
	sps, _ := hex.DecodeString("42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003c10")
	seeds := [][]byte{sps}
	b, err := os.ReadFile("../../demux/flv/testdata/hevc.h265")
	require.NoError(f, err)
	nalus, err := h264.SplitAnnexB(b)
	require.NoError(f, err)
	for _, n := range nalus {
		if len(n) > 2 && (n[0]>>1)&0x3f == 33 {
			seeds = append(seeds, n)
		}
	}
	require.Greater(f, len(seeds), 1, "the fixture has an SPS")
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	f.Add([]byte{0x42, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSPS(b)
		if err != nil {
			return
		}
		require.Positive(t, s.Width)
		require.Positive(t, s.Height)
		require.LessOrEqual(t, s.Width, MaxDimension)
		require.LessOrEqual(t, s.Height, MaxDimension)
	})
}
