package vp9

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// TestSuperframeLibvpx: libvpx packs each hidden alt-ref frame with the
// next shown one into a superframe; taking them apart and joining them
// again gives the same bytes, and every frame inside parses.
func TestSuperframeLibvpx(t *testing.T) {
	ffmpeg := testutil.FFmpeg(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "alt.ivf")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Two passes: libvpx places alt-ref frames from the first pass's
	// statistics.
	for _, pass := range []string{"1", "2"} {
		b, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "3",
			"-c:v", "libvpx-vp9", "-pass", pass, "-passlogfile", filepath.Join(dir, "stats"),
			"-auto-alt-ref", "1", "-lag-in-frames", "16", "-b:v", "300k", "-deadline", "good", "-cpu-used", "4",
			"-f", "ivf", out).CombinedOutput()
		require.NoError(t, err, string(b))
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)

	supers := 0
	for _, chunk := range testutil.IVFFrames(t, data) {
		frames := SplitSuperframe(chunk)
		if frames == nil {
			_, err := ParseFrame(chunk)
			require.NoError(t, err)
			continue
		}
		supers++
		require.GreaterOrEqual(t, len(frames), 2)
		for _, f := range frames {
			_, err := ParseFrame(f)
			require.NoError(t, err)
		}
		joined, err := JoinSuperframe(frames)
		require.NoError(t, err)
		require.Equal(t, chunk, joined, "the same index libvpx wrote")
		// Joining chunks that are superframes flattens them.
		again, err := JoinSuperframe([][]byte{chunk, frames[0]})
		require.NoError(t, err)
		require.Len(t, SplitSuperframe(again), len(frames)+1)
	}
	require.NotZero(t, supers, "libvpx with alt-ref frames writes superframes")
}

func TestJoinSuperframe(t *testing.T) {
	small, big := bytes.Repeat([]byte{0x82}, 10), bytes.Repeat([]byte{0x83}, 300)
	one, err := JoinSuperframe([][]byte{small})
	require.NoError(t, err)
	require.Equal(t, small, one, "one frame is left as it is")

	sf, err := JoinSuperframe([][]byte{small, big})
	require.NoError(t, err)
	// Two bytes per size (300 > 255), two frames: marker 0b110_01_001.
	require.Equal(t, []byte{0xc9, 10, 0, 44, 1, 0xc9}, sf[len(sf)-6:])
	require.Equal(t, [][]byte{small, big}, SplitSuperframe(sf))

	_, err = JoinSuperframe([][]byte{small, {}})
	require.Error(t, err)
	nine := make([][]byte, 9)
	for i := range nine {
		nine[i] = small
	}
	_, err = JoinSuperframe(nine)
	require.ErrorContains(t, err, "at most 8")
	// A size that runs past the data, or a marker without its copy: a lone frame.
	require.Nil(t, SplitSuperframe([]byte{1, 2, 0xc0, 9, 0xc0}))
	require.Nil(t, SplitSuperframe([]byte{1, 2, 3, 0xc0}))
	require.Nil(t, SplitSuperframe(nil))
}

func FuzzSuperframe(f *testing.F) {
	f.Add([]byte{0x82, 0x82, 0xc1, 1, 1, 0xc1})
	f.Add([]byte{1, 2, 3, 0xc0, 9, 0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		frames := SplitSuperframe(b)
		if frames == nil {
			return
		}
		total, nested := 0, false
		for _, fr := range frames {
			require.NotEmpty(t, fr)
			total += len(fr)
			nested = nested || SplitSuperframe(fr) != nil
		}
		require.Less(t, total, len(b))
		joined, err := JoinSuperframe(frames)
		if nested {
			return // flattened, and maybe over the frame count
		}
		require.NoError(t, err)
		if len(frames) > 1 {
			require.Equal(t, frames, SplitSuperframe(joined))
		}
	})
}
