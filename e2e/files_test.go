package e2e_test

import (
	"context"
	"crypto/sha1"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
	"github.com/tributary-ingress/tributary/internal/testutil/flvtest"
	"github.com/tributary-ingress/tributary/media"
)

// encodeFile makes an FLV file of a 1080p30 test pattern and a 44.1 kHz
// tone with the real ffmpeg CLI, with the given video options.
func encodeFile(t *testing.T, name string, seconds int, video ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", itoa(seconds)}
	args = append(args, video...)
	args = append(args, "-c:a", "aac", "-ar", "44100", "-ac", "2", "-f", "flv", out)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, e2e.FFmpegBin(t), args...).CombinedOutput()
	require.NoError(t, err, string(b))
	return out
}

// sliceHashes returns the SHA-1 of every H.264 slice NAL unit of an FLV file.
func sliceHashes(t *testing.T, path string) map[[sha1.Size]byte]struct{} {
	t.Helper()
	out := map[[sha1.Size]byte]struct{}{}
	require.NoError(t, flvtest.Read(path, nil, func(fr *media.Frame) error {
		if fr.Track.Kind != media.KindVideo {
			return nil
		}
		for _, n := range fr.Data {
			if typ := h264.Type(n); typ == h264.NALUTypeNonIDR || typ == h264.NALUTypeIDR {
				out[sha1.Sum(n)] = struct{}{}
			}
		}
		return nil
	}))
	return out
}
