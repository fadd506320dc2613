package ts

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// TestConsecutiveRuns feeds a file cut in two at a packet boundary through
// two Run calls: the result is that of one Run (the timeline continues),
// except for the PES packets the cut splits.
func TestConsecutiveRuns(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "wrap.ts")
	whole, err := demuxBytes(in)
	require.NoError(t, err)
	pkts := splitPackets(t, in)
	idx, _ := videoPESStarts(pkts, 0x100)
	cut := idx[30] * PacketSize
	parts, err := demuxBytes(in[:cut], in[cut:])
	require.NoError(t, err)
	wv, pv := whole.KindFrames(media.KindVideo), parts.KindFrames(media.KindVideo)
	require.Len(t, pv, len(wv))
	for i := range wv {
		require.Equal(t, wv[i].DTS, pv[i].DTS, "frame %d", i)
		require.Equal(t, wv[i].PTS, pv[i].PTS, "frame %d", i)
	}
}

// TestDiscontinuity plays a file twice with Discontinuity in between (an
// HLS stream that loops the same segment): the second copy follows the
// first instead of going back in time.
func TestDiscontinuity(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "h264_bf2_aac.ts")
	r := &demuxed{}
	d := newCollector(r)
	require.NoError(t, d.Initialize())
	require.NoError(t, d.Run(t.Context(), bytesReader(in)))
	n := len(r.Frames)
	d.Discontinuity()
	require.NoError(t, d.Run(t.Context(), bytesReader(in)))
	require.Len(t, r.Frames, 2*n)
	checkInvariants(t, r)
	video := r.KindFrames(media.KindVideo)
	for i := 1; i < len(video); i++ {
		require.Greater(t, video[i].DTS, video[i-1].DTS, "frame %d", i)
	}
	// The second copy starts where the first ended (its audio runs a few
	// frames longer than its video), and keeps its internal spacing.
	audio := r.KindFrames(media.KindAudio)
	audioEnd := media.Rescale(audio[n-30-1].DTS+1024, 44100, VideoClockRate)
	require.GreaterOrEqual(t, video[30].DTS, video[29].DTS+3000)
	require.InDelta(t, audioEnd, video[30].DTS, 1)
	for i := 31; i < 60; i++ {
		require.Equal(t, video[i-30].DTS-video[0].DTS, video[i].DTS-video[30].DTS, "frame %d", i)
	}
	require.Equal(t, uint64(1), d.Stats().Discontinuities)
}

func TestUnwrap(t *testing.T) {
	var tl timeline
	require.Equal(t, int64(wrapPeriod-10), tl.unwrap(wrapPeriod-10))
	require.Equal(t, int64(wrapPeriod+5), tl.unwrap(5))
	require.Equal(t, int64(wrapPeriod-20), tl.unwrap(wrapPeriod-20)) // B-frame DTS may go back a little
	require.Equal(t, int64(wrapPeriod+100), relative(wrapPeriod-20, 100))
}

// TestJoinMidStream starts reading after the first access unit, as an SRT
// or HTTP client joining a running stream does: video before the next
// SPS/PPS is dropped and counted, and the first frame is a keyframe.
func TestJoinMidStream(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "h264_bf2_aac.ts")
	idx, _ := videoPESStarts(splitPackets(t, in), 0x100)
	r, err := demuxBytes(in[idx[1]*PacketSize:])
	require.NoError(t, err)
	checkInvariants(t, r)
	video := r.KindFrames(media.KindVideo)
	require.NotEmpty(t, video)
	require.True(t, video[0].Key)
	// 29 access units follow the cut; those before the next PMT are not
	// even seen as video.
	require.InDelta(t, 29, r.stats.DroppedBeforeConfig+uint64(len(video)), 2)
	require.Positive(t, r.stats.DroppedBeforeConfig)
}
