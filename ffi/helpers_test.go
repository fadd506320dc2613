//go:build cgo

package ffi

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// runFFmpeg runs the ffmpeg CLI to make real test media.
func runFFmpeg(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command(testutil.FFmpeg(t), append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ffmpeg %s: %s", strings.Join(args, " "), out)
}

// probePTS returns the video packet pts of a file, in decode order.
func probePTS(t testing.TB, path string) []int64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=pts", "-of", "csv=p=0", path).Output()
	require.NoError(t, err)
	var pts []int64
	for _, l := range strings.Fields(string(out)) {
		v, err := strconv.ParseInt(strings.TrimSuffix(l, ","), 10, 64)
		require.NoError(t, err)
		pts = append(pts, v)
	}
	return pts
}

// nalUnits splits an Annex-B stream into NAL units (without start codes).
func nalUnits(b []byte) [][]byte {
	var nalus [][]byte
	start := -1
	for i := 0; i+3 <= len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end-- // 4-byte start code
				}
				nalus = append(nalus, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		nalus = append(nalus, b[start:])
	}
	return nalus
}

// accessUnits splits an Annex-B stream at access unit delimiters and
// returns each access unit as Annex-B (4-byte start codes).
func accessUnits(b []byte, isAUD func(nalu []byte) bool) [][]byte {
	var aus [][]byte
	var cur []byte
	for _, n := range nalUnits(b) {
		if isAUD(n) && len(cur) > 0 {
			aus = append(aus, cur)
			cur = nil
		}
		cur = append(cur, 0, 0, 0, 1)
		cur = append(cur, n...)
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

func isH264AUD(n []byte) bool { return len(n) > 0 && n[0]&0x1f == 9 }
func isHEVCAUD(n []byte) bool { return len(n) > 0 && (n[0]>>1)&0x3f == 35 }

// adtsFrames splits an ADTS stream into frames (header included).
func adtsFrames(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var frames [][]byte
	for len(b) >= 7 {
		require.True(t, b[0] == 0xff && b[1]&0xf0 == 0xf0, "lost ADTS sync")
		n := int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5])>>5
		require.LessOrEqual(t, n, len(b))
		frames = append(frames, b[:n])
		b = b[n:]
	}
	return frames
}

func tempPath(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name)
}

// fillPattern paints a moving gradient with some texture, so encoders have
// real work and motion to do.
func fillPattern(t testing.TB, f *VideoFrame, i int) {
	t.Helper()
	require.NoError(t, f.MakeWritable())
	p, s := f.Planes(), f.Strides()
	w, h := f.Width(), f.Height()
	for y := 0; y < h; y++ {
		row := p[0][y*s[0]:]
		for x := 0; x < w; x++ {
			v := x + y + 4*i
			if (x/16+y/16+i/8)%2 == 0 {
				v += 60
			}
			row[x] = byte(v + (x*7+y*13+i)%5)
		}
	}
	for c := 1; c <= 2; c++ {
		for y := 0; y < (h+1)/2; y++ {
			row := p[c][y*s[c]:]
			for x := 0; x < (w+1)/2; x++ {
				row[x] = byte(128 + 40*c + x - y + 2*i)
			}
		}
	}
}

// sineFrame makes a planar float frame of a 440 Hz sine, starting at sample
// offset off.
func sineFrame(t testing.TB, rate, channels, n, off int) *AudioFrame {
	t.Helper()
	f, err := NewAudioFrame(SampleFormatFLTP, rate, channels, n)
	require.NoError(t, err)
	for _, p := range f.Planes() {
		for i := 0; i < n; i++ {
			v := float32(0.5 * math.Sin(2*math.Pi*440*float64(off+i)/float64(rate)))
			binary.LittleEndian.PutUint32(p[i*4:], math.Float32bits(v))
		}
	}
	f.PTS = int64(off)
	return f
}

// rss returns the resident set size of the process, from /proc/self/statm.
func rss(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	require.NoError(t, err)
	fields := strings.Fields(string(b))
	require.GreaterOrEqual(t, len(fields), 2)
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	require.NoError(t, err)
	return pages * int64(os.Getpagesize())
}

func releaseVideo(frames []*VideoFrame) {
	for _, f := range frames {
		f.Release()
	}
}

func releaseAudio(frames []*AudioFrame) {
	for _, f := range frames {
		f.Release()
	}
}
