//go:build cgo

package ffi

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// areaReference is the exact area average of src (sw × sh, one plane) at
// dw × dh, rounded to nearest (halves up): the definition the kernels
// implement, computed in the slowest, most obvious way.
func areaReference(src []byte, stride, sw, sh, dw, dh int) []byte {
	out := make([]byte, dw*dh)
	fx, fy := float64(sw)/float64(dw), float64(sh)/float64(dh)
	for y := range dh {
		for x := range dw {
			var sum, area float64
			for sy := int(float64(y) * fy); float64(sy) < float64(y+1)*fy; sy++ {
				hy := math.Min(float64(sy+1), float64(y+1)*fy) - math.Max(float64(sy), float64(y)*fy)
				for sx := int(float64(x) * fx); float64(sx) < float64(x+1)*fx; sx++ {
					hx := math.Min(float64(sx+1), float64(x+1)*fx) - math.Max(float64(sx), float64(x)*fx)
					sum += float64(src[sy*stride+sx]) * hx * hy
					area += hx * hy
				}
			}
			out[y*dw+x] = byte(math.Floor(sum/area + 0.5 + 1e-9))
		}
	}
	return out
}

// TestResizeKernels checks the 2:1 and 3:2 kernels against the exact area
// average (equal to the sample), on noise and on the extreme values, at
// sizes that use the vector loops, their scalar tails and both.
func TestResizeKernels(t *testing.T) {
	for _, c := range []struct{ sw, sh, dw, dh int }{
		{1920, 1080, 1280, 720}, {1280, 720, 640, 360}, {640, 360, 320, 180},
		{1932, 1086, 1288, 724}, // two-thirds chroma 644 wide: vector loop + tail
		{12, 6, 8, 4},           // two-thirds, scalar only
		{200, 112, 100, 56},     // halve: 96 by vector, 4 by the tail
		{1926, 1086, 1284, 724}, // chroma 963x543 → 642x362
	} {
		t.Run(fmt.Sprintf("%dx%d-%dx%d", c.sw, c.sh, c.dw, c.dh), func(t *testing.T) {
			s, err := NewScaler(c.sw, c.sh, c.dw, c.dh, ScaleArea)
			require.NoError(t, err)
			defer s.Close()
			src, err := NewVideoFrame(c.sw, c.sh)
			require.NoError(t, err)
			defer src.Release()
			dst, err := s.NewFrame()
			require.NoError(t, err)
			defer dst.Release()
			require.NotZero(t, resizeKind(src, dst), "these sizes take a kernel")
			rng := rand.New(rand.NewPCG(1, uint64(c.sw)))
			for _, fill := range []func() byte{
				func() byte { return byte(rng.IntN(256)) },
				func() byte { return 255 },
				func() byte { return 0 },
				func() byte { return byte(rng.IntN(2) * 255) },
			} {
				for _, p := range src.Planes() {
					for j := range p {
						p[j] = fill()
					}
				}
				require.NoError(t, s.Scale(src, dst))
				sp, ss, dp, ds := src.Planes(), src.Strides(), dst.Planes(), dst.Strides()
				for i := range 3 {
					sw, sh, dw, dh := c.sw, c.sh, c.dw, c.dh
					if i > 0 {
						sw, sh, dw, dh = sw/2, sh/2, dw/2, dh/2
					}
					want := areaReference(sp[i], ss[i], sw, sh, dw, dh)
					for y := range dh {
						for x := range dw {
							if got := dp[i][y*ds[i]+x]; got != want[y*dw+x] {
								t.Fatalf("plane %d (%d,%d): %d, want %d", i, x, y, got, want[y*dw+x])
							}
						}
					}
				}
			}
		})
	}
}

// TestResizeKernelsMatchSwscale compares a real picture's kernel output
// with libswscale's SWS_AREA: the same picture within rounding.
func TestResizeKernelsMatchSwscale(t *testing.T) {
	for _, c := range []struct{ sw, sh, dw, dh int }{{1920, 1080, 1280, 720}, {1280, 720, 640, 360}} {
		src, err := NewVideoFrame(c.sw, c.sh)
		require.NoError(t, err)
		defer src.Release()
		fillPattern(t, src, 7)
		var out [2]*VideoFrame
		for i := range out {
			s, err := NewScaler(c.sw, c.sh, c.dw, c.dh, ScaleArea)
			require.NoError(t, err)
			defer s.Close()
			s.swscaleOnly = i == 1
			out[i], err = s.NewFrame()
			require.NoError(t, err)
			defer out[i].Release()
			require.NoError(t, s.Scale(src, out[i]))
		}
		a, b, st := out[0].Planes(), out[1].Planes(), out[0].Strides()
		var se float64
		var n, maxDiff int
		for i := range 3 {
			w, h := c.dw, c.dh
			if i > 0 {
				w, h = w/2, h/2
			}
			for y := range h {
				for x := range w {
					d := int(a[i][y*st[i]+x]) - int(b[i][y*st[i]+x])
					se += float64(d * d)
					n++
					maxDiff = max(maxDiff, d, -d)
				}
			}
		}
		psnr := 10 * math.Log10(255*255/(se/float64(n)+1e-12))
		t.Logf("%dx%d → %dx%d: PSNR %.1f dB against libswscale area, max difference %d", c.sw, c.sh, c.dw, c.dh, psnr, maxDiff)
		require.Greater(t, psnr, 45.0)
	}
}

// TestResizeFallsBackToSwscale: other ratios, odd sizes and other pixel
// formats take libswscale's path.
func TestResizeFallsBackToSwscale(t *testing.T) {
	for _, c := range []struct{ sw, sh, dw, dh int }{
		{1920, 1080, 640, 360}, {642, 362, 321, 181}, {1280, 720, 1280, 720}, {640, 360, 1280, 720}, {4, 2, 2, 1},
	} {
		src, err := NewVideoFrame(c.sw, c.sh)
		require.NoError(t, err)
		dst, err := NewVideoFrame(c.dw, c.dh)
		require.NoError(t, err)
		require.Zero(t, resizeKind(src, dst), "%dx%d → %dx%d", c.sw, c.sh, c.dw, c.dh)
		src.Release()
		dst.Release()
	}
}

// BenchmarkResize compares the ladder's kernels with libswscale's area
// filter doing the same resize.
func BenchmarkResize(b *testing.B) {
	for _, c := range []struct{ sw, sh, dw, dh int }{{1920, 1080, 1280, 720}, {1280, 720, 640, 360}, {640, 360, 320, 180}} {
		for _, swscale := range []bool{false, true} {
			name := "kernel"
			if swscale {
				name = "swscale_area"
			}
			b.Run(fmt.Sprintf("%dp-%dp/%s", c.sh, c.dh, name), func(b *testing.B) {
				s, err := NewScaler(c.sw, c.sh, c.dw, c.dh, ScaleArea)
				require.NoError(b, err)
				defer s.Close()
				s.swscaleOnly = swscale
				src, err := NewVideoFrame(c.sw, c.sh)
				require.NoError(b, err)
				defer src.Release()
				fillPattern(b, src, 0)
				dst, err := s.NewFrame()
				require.NoError(b, err)
				defer dst.Release()
				b.ReportAllocs()
				for b.Loop() {
					if err := s.Scale(src, dst); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
