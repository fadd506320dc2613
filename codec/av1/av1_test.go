package av1

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The sequence header OBU of demux/flv/testdata/av1.ivf (libaom, 320x180).
var seqHeaderOBU = []byte{0x0a, 0x0b, 0x00, 0x00, 0x00, 0x04, 0x3c, 0xfe, 0xcc, 0xda, 0xf9, 0x00, 0x40}

func TestParseConfig(t *testing.T) {
	rec := append([]byte{0x81, 0x04, 0x0c, 0x00}, seqHeaderOBU...)
	c, err := ParseConfig(rec)
	require.NoError(t, err)
	require.Equal(t, uint8(4), c.SeqLevelIdx0)
	require.Equal(t, 320, c.Width)
	require.Equal(t, 180, c.Height)
	require.True(t, ContainsSequenceHeader(seqHeaderOBU))
	require.False(t, ContainsSequenceHeader([]byte{0x12, 0x00}))

	c, err = ParseConfig([]byte{0x81, 0, 0, 0})
	require.NoError(t, err)
	require.Zero(t, c.Width)
	_, err = ParseConfig([]byte{0x01, 0, 0, 0})
	require.Error(t, err)
}

func FuzzParseConfig(f *testing.F) {
	f.Add(append([]byte{0x81, 0x04, 0x0c, 0x00}, seqHeaderOBU...))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, c.Width, 0)
		require.GreaterOrEqual(t, c.Height, 0)
	})
}
