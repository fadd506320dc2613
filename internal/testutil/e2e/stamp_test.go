package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// drawStamp draws the stamp of frame into a grey luma plane the way
// StampFilter's expression does.
func drawStamp(frame, width, height, stride int) []byte {
	luma := make([]byte, stride*height)
	for i := range luma {
		luma[i] = 128
	}
	var bits [StampBlocks]int
	bits[0] = 1
	ones := 0
	for i := range stampBits {
		bits[2+i] = frame >> i & 1
		ones += bits[2+i]
	}
	bits[StampBlocks-1] = ones % 2
	for y := range height / stampStripDivs {
		for x := range width {
			luma[y*stride+x] = byte(stampBlack + (stampWhite-stampBlack)*bits[x*StampBlocks/width])
		}
	}
	return luma
}

func TestReadStamp(t *testing.T) {
	for _, frame := range []int{0, 1, 2, 77, 1000, StampModulo - 1} {
		for _, size := range [][2]int{{1280, 720}, {320, 180}, {176, 144}} {
			luma := drawStamp(frame, size[0], size[1], size[0]+32)
			require.Equal(t, frame, ReadStamp(luma, size[0]+32, size[0], size[1]), "frame %d at %v", frame, size)
		}
	}
	luma := drawStamp(5, 640, 360, 640)
	require.Equal(t, 5, ReadStamp(luma, 640, 640, 360))
	// One bit flipped (block 3, the second bit): the parity catches it.
	for y := range 360 / stampStripDivs {
		for x := 3 * 40; x < 4*40; x++ {
			luma[y*640+x] = stampWhite
		}
	}
	require.Equal(t, -1, ReadStamp(luma, 640, 640, 360), "a flipped bit is detected")
	// A block neither black nor white is no stamp.
	luma = drawStamp(5, 640, 360, 640)
	for y := range 360 / stampStripDivs {
		for x := 7 * 40; x < 8*40; x++ {
			luma[y*640+x] = 128
		}
	}
	require.Equal(t, -1, ReadStamp(luma, 640, 640, 360))
	// A picture without a stamp.
	grey := make([]byte, 640*360)
	require.Equal(t, -1, ReadStamp(grey, 640, 640, 360))
	require.Equal(t, -1, ReadStamp(grey[:10], 640, 640, 360), "a short plane is refused")

	require.Equal(t, 8192+5, UnwrapStamp(5, 8190))
	require.Equal(t, 8190, UnwrapStamp(8190, 8193))
	require.Equal(t, 100, UnwrapStamp(100, 90))
}

// TestStampSurvivesTranscoding draws stamps with ffmpeg (StampFilter),
// scales the picture to 320x180 and encodes it with x264 at 150 kbit/s
// (below what Tributary's LOW layer gets), then decodes it: every
// picture's stamp reads back as its frame number.
func TestStampSurvivesTranscoding(t *testing.T) {
	ffmpeg := testutil.FFmpeg(t)
	out := filepath.Join(t.TempDir(), "stamped.h264")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t",
		"-filter_complex", StampFilter("0:v", "st", 1280, 720)+";[st]scale=320:180[v]", "-map", "[v]",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "150k", "-bf", "0", "-f", "h264", out).CombinedOutput()
	require.NoError(t, err, string(b))
	raw, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-i", out, "-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
	require.NoError(t, err)
	const w, h = 320, 180
	require.Len(t, raw, 120*w*h, "4 s of 30 fps")
	for i := range 120 {
		require.Equal(t, i, ReadStamp(raw[i*w*h:(i+1)*w*h], w, w, h), "picture %d", i)
	}
}
