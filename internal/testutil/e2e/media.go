package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// ffmpegTimeout bounds the generation of a test file.
const ffmpegTimeout = 2 * time.Minute

// H264File describes a raw H.264 test file to generate with ffmpeg.
type H264File struct {
	// Width and Height of the picture.
	Width, Height int
	// FPS is the frame rate.
	FPS int
	// Duration of the clip.
	Duration time.Duration
	// GOP is the keyframe interval in frames (0: one second's worth).
	GOP int
}

// GenerateH264 writes an H.264 Annex-B elementary stream (testsrc2 pattern,
// libx264 baseline profile, no B-frames, SPS/PPS before every IDR) into
// t.TempDir() with the real ffmpeg CLI and returns its path.
func GenerateH264(t testing.TB, f H264File) string {
	t.Helper()
	bin := FFmpegBin(t)
	gop := f.GOP
	if gop == 0 {
		gop = f.FPS
	}
	out := filepath.Join(t.TempDir(), fmt.Sprintf("testsrc2_%dx%d_%dfps.h264", f.Width, f.Height, f.FPS))
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", f.Width, f.Height, f.FPS),
		"-t", strconv.FormatFloat(f.Duration.Seconds(), 'f', 3, 64),
		"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", strconv.Itoa(gop),
		"-pix_fmt", "yuv420p",
		"-f", "h264", out,
	}
	ctx, cancel := context.WithTimeout(context.Background(), ffmpegTimeout)
	defer cancel()
	output, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v (context: %v)\n%s", args, err, ctx.Err(), output)
	}
	return out
}
