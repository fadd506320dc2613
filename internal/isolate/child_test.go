package isolate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/internal/testutil/flvtest"
	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/simulcast"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// TestMain lets the test binary be its own transcoding child, as the
// tributary binary is in production, and fails the tests if a goroutine
// outlives them.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildCommand {
		if err := RunChild(os.Stdin, os.Stdout, logger.GetLogger()); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// childSource encodes a 320x180 30 fps H.264 file with the real ffmpeg
// (args after the input) and returns its track and video frames, the
// parameter sets in front of keyframes as the session puts them.
func childSource(t *testing.T, args ...string) (*media.Track, []*media.Frame) {
	t.Helper()
	ffmpeg := testutil.FFmpeg(t)
	src := filepath.Join(t.TempDir(), "src.flv")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30"}, args...)
	out, err := exec.CommandContext(ctx, ffmpeg, append(cmd, "-f", "flv", src)...).CombinedOutput()
	require.NoError(t, err, string(out))
	track, _, frames, err := flvtest.ReadAll(src)
	require.NoError(t, err)
	require.NotNil(t, track)
	var dc h264.DecoderConfig
	require.NoError(t, dc.Unmarshal(track.Config))
	var video []*media.Frame
	for _, fr := range frames {
		if fr.Track.Kind != media.KindVideo {
			continue
		}
		if fr.Key {
			g := *fr
			g.Data = append(append(append([][]byte{}, dc.SPS...), dc.PPS...), fr.Data...)
			fr = &g
		}
		video = append(video, fr)
	}
	return track, video
}

// childLayers starts a video transcoder of track in a child process of
// tcs with two layers, 160x90 and the source's 320x180; the frames each
// layer outputs are in the returned map, under mu.
func childLayers(t *testing.T, tcs *ChildTranscoders, track *media.Track, mu *sync.Mutex) (pipeline.VideoTranscoder, map[int][]*media.Frame) {
	t.Helper()
	got := map[int][]*media.Frame{}
	v, err := tcs.NewVideo(pipeline.VideoTranscodeConfig{
		Source: track, Codec: media.CodecH264, FrameRate: 30,
		Layers: []simulcast.Layer{
			{Quality: livekit.VideoQuality_LOW, Width: 160, Height: 90, Bitrate: 100_000},
			{Quality: livekit.VideoQuality_MEDIUM, Width: 320, Height: 180, Bitrate: 300_000},
		},
		Output: func(layer int, f *media.Frame) {
			mu.Lock()
			got[layer] = append(got[layer], f)
			mu.Unlock()
		},
	})
	require.NoError(t, err)
	return v, got
}

// TestChildLayerPause transcodes through a real child process with one of
// two layers paused from the start: the pause crosses the pipe before the
// first frame, so the paused layer outputs nothing and the other every
// picture.
func TestChildLayerPause(t *testing.T) {
	track, frames := childSource(t, "-t", "1", "-c:v", "libx264", "-bf", "0")
	var mu sync.Mutex
	v, got := childLayers(t, &ChildTranscoders{Bin: os.Args[0], Blocking: true}, track, &mu)
	v.SetLayerActive(1, false)
	for _, fr := range frames {
		require.NoError(t, v.Write(fr))
	}
	require.NoError(t, v.Close())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got[0], len(frames), "layer 0: every picture")
	require.Empty(t, got[1], "layer 1 was paused before the first frame")
}

// TestChildReuseTop: top-layer reuse crosses the pipe: through a real child
// process, a Constrained Baseline source at the top layer's size comes
// back as that layer byte for byte once measured (from its third keyframe,
// at 2 s), and the lower layer is encoded.
func TestChildReuseTop(t *testing.T) {
	track, frames := childSource(t, "-t", "3", "-c:v", "libx264", "-preset", "ultrafast",
		"-profile:v", "baseline", "-bf", "0", "-g", "30", "-keyint_min", "30", "-b:v", "300k")
	var mu sync.Mutex
	v, got := childLayers(t, &ChildTranscoders{Bin: os.Args[0], Blocking: true, ReuseTop: true}, track, &mu)
	for _, fr := range frames {
		require.NoError(t, v.Write(fr))
	}
	require.NoError(t, v.Close())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, frames, 90)
	require.Len(t, got[0], 90, "layer 0: every picture")
	require.Len(t, got[1], 90, "layer 1: every picture")
	for n, f := range got[1] {
		require.Equal(t, n >= 60, reflect.DeepEqual(frames[n].Data, f.Data), "picture %d forwarded from the third keyframe on", n)
	}
}
