package vp9

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	bare := []byte{0, 10, 8<<4 | 1<<1, 1, 1, 1, 0, 0}
	want := &Config{Level: 10, BitDepth: 8, ChromaSubsampling: 1, ColourPrimaries: 1, TransferChars: 1, MatrixCoeffs: 1}
	for _, b := range [][]byte{bare, append([]byte{1, 0, 0, 0}, bare...)} {
		c, err := ParseConfig(b)
		require.NoError(t, err)
		require.Equal(t, want, c)
	}
	_, err := ParseConfig(bare[:7])
	require.Error(t, err)
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte{0, 10, 8<<4 | 1<<1, 1, 1, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseConfig(b); err == nil {
			require.LessOrEqual(t, c.Profile, uint8(3))
		}
		_, _ = ParseFrame(b)
	})
}
