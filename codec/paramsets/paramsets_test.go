package paramsets

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/media"
)

// An H.264 baseline 1280x720 SPS and its PPS.
var (
	sps264 = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x03, 0xc6, 0x0c, 0xa8}
	pps264 = []byte{0x68, 0xce, 0x3c, 0x80}
	idr264 = []byte{0x65, 0x88, 0x84}
	p264   = []byte{0x41, 0x9a, 0x02}
)

func TestH264(t *testing.T) {
	s, key := Scan(media.CodecH264, [][]byte{p264}, Sets{})
	require.False(t, key)
	require.False(t, s.Complete(media.CodecH264))

	s, key = Scan(media.CodecH264, [][]byte{sps264, pps264, idr264}, s)
	require.True(t, key)
	require.True(t, s.Complete(media.CodecH264))
	require.Equal(t, [][]byte{sps264, pps264}, s.List(media.CodecH264))

	w, h, cfg, err := Config(media.CodecH264, s)
	require.NoError(t, err)
	require.Equal(t, [2]int{1280, 720}, [2]int{w, h})
	var dc h264.DecoderConfig
	require.NoError(t, dc.Unmarshal(cfg))
	require.Equal(t, [][]byte{sps264}, dc.SPS)
	require.Equal(t, [][]byte{pps264}, dc.PPS)
	require.Equal(t, 4, dc.LengthSize)

	// Clone owns its bytes; Equal compares them.
	c := s.Clone()
	require.True(t, c.Equal(s))
	c.PPS[1]++
	require.False(t, c.Equal(s))
	require.Equal(t, byte(0xce), pps264[1])

	// With takes what was found, copied, and keeps the rest.
	newPPS := []byte{0x68, 0xcf, 0x3c, 0x80}
	w2 := s.With(Sets{PPS: newPPS})
	require.Equal(t, sps264, w2.SPS)
	require.Equal(t, newPPS, w2.PPS)
	newPPS[1] = 0
	require.Equal(t, byte(0xcf), w2.PPS[1], "a copy, not the found buffer")
	require.True(t, s.With(Sets{}).Equal(s))

	_, _, _, err = Config(media.CodecH264, Sets{SPS: sps264[:3], PPS: pps264})
	require.ErrorContains(t, err, "H.264 SPS")
}

// TestH265 reads x265's parameter sets (320x180) and keyframe from a file.
func TestH265(t *testing.T) {
	b, err := os.ReadFile("../../demux/flv/testdata/hevc.h265")
	require.NoError(t, err)
	au, err := h264.SplitAnnexB(b)
	require.NoError(t, err)

	s, key := Scan(media.CodecH265, au, Sets{})
	require.True(t, key, "the file starts with an IRAP picture")
	require.True(t, s.Complete(media.CodecH265))
	require.False(t, (Sets{SPS: s.SPS, PPS: s.PPS}).Complete(media.CodecH265), "H.265 needs its VPS")
	require.Len(t, s.List(media.CodecH265), 3)

	w, h, cfg, err := Config(media.CodecH265, s)
	require.NoError(t, err)
	require.Equal(t, [2]int{320, 180}, [2]int{w, h})
	var dc h265.DecoderConfig
	require.NoError(t, dc.Unmarshal(cfg))
	require.Equal(t, [][]byte{s.SPS}, dc.SPS)
}
