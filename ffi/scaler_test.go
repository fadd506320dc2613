//go:build cgo

package ffi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScaler(t *testing.T) {
	s, err := NewScaler(640, 360, 320, 180, ScaleBilinear)
	require.NoError(t, err)
	defer s.Close()

	src, err := NewVideoFrame(640, 360)
	require.NoError(t, err)
	defer src.Release()
	// A flat picture must stay flat.
	for i, p := range src.Planes() {
		v := byte(16 + 100*i)
		for j := range p {
			p[j] = v
		}
	}
	src.PTS = 123456
	src.Key = true

	dst, err := s.NewFrame()
	require.NoError(t, err)
	defer dst.Release()
	for range 3 { // reusing the destination
		require.NoError(t, s.Scale(src, dst))
	}
	require.Equal(t, 320, dst.Width())
	require.Equal(t, 180, dst.Height())
	require.Equal(t, int64(123456), dst.PTS)
	require.True(t, dst.Key)
	p, st := dst.Planes(), dst.Strides()
	for i, h := range []int{180, 90, 90} {
		w := 320 >> min(i, 1)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				require.Equal(t, byte(16+100*i), p[i][y*st[i]+x], "plane %d (%d,%d)", i, x, y)
			}
		}
	}

	// A decoder's other formats and sizes are converted too.
	other, err := NewVideoFrame(1280, 720)
	require.NoError(t, err)
	defer other.Release()
	require.NoError(t, s.Scale(other, dst))

	wrong, err := NewVideoFrame(100, 100)
	require.NoError(t, err)
	defer wrong.Release()
	require.EqualError(t, s.Scale(src, wrong), "scaler: destination is 100x100 yuv420p, want 320x180 yuv420p")

	s.Close()
	s.Close()
	require.ErrorContains(t, s.Scale(src, dst), "scaler: already closed")
}
