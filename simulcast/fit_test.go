package simulcast

import (
	"slices"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

func mustPlan(t testing.TB, o *livekit.IngressVideoOptions) VideoPlan {
	t.Helper()
	p, err := ResolveVideo(o)
	require.NoError(t, err)
	return p
}

// The expected sizes follow upstream applyResolutionToLayer and
// filterAndSortLayersByQuality (pkg/media/webrtc_sink.go), worked by hand.
func TestFit(t *testing.T) {
	p720 := mustPlan(t, nil)
	p1080 := mustPlan(t, preset(livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_3_LAYERS))
	p540 := mustPlan(t, preset(livekit.IngressVideoEncodingPreset_H264_540P_25FPS_2_LAYERS))
	p1080x1 := mustPlan(t, preset(livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_1_LAYER))

	cases := []struct {
		name       string
		plan       VideoPlan
		srcW, srcH uint32
		want       []Layer
	}{
		{"720p preset, 1080p source", p720, 1920, 1080, []Layer{
			{low, 320, 180, 237_500}, {medium, 640, 360, 671_751}, {high, 1280, 720, 1_900_000},
		}},
		{"720p preset, 720p source", p720, 1280, 720, []Layer{
			{low, 320, 180, 237_500}, {medium, 640, 360, 671_751}, {high, 1280, 720, 1_900_000},
		}},
		{"1080p preset, 1080p source", p1080, 1920, 1080, []Layer{
			{low, 480, 270, 437_500}, {medium, 960, 540, 1_237_436}, {high, 1920, 1080, 3_500_000},
		}},
		{"1080p preset, 720p source: HIGH fitted down to the source", p1080, 1280, 720, []Layer{
			{low, 480, 270, 437_500}, {medium, 960, 540, 1_237_436}, {high, 1280, 720, 3_500_000},
		}},
		{"1080p preset, 960×540 source: MEDIUM covers, HIGH dropped", p1080, 960, 540, []Layer{
			{low, 480, 270, 437_500}, {medium, 960, 540, 1_237_436},
		}},
		{"720p preset, 640×480 4:3 source", p720, 640, 480, []Layer{
			{low, 240, 180, 237_500}, {medium, 480, 360, 671_751}, {high, 640, 480, 1_900_000},
		}},
		{"1080p preset, 640×480 4:3 source", p1080, 640, 480, []Layer{
			{low, 360, 270, 437_500}, {medium, 640, 480, 1_237_436},
		}},
		{"720p preset, 720×1280 portrait", p720, 720, 1280, []Layer{
			{low, 102, 180, 237_500}, {medium, 202, 360, 671_751}, {high, 406, 720, 1_900_000},
		}},
		{"1080p preset, 1080×1920 portrait", p1080, 1080, 1920, []Layer{
			{low, 152, 270, 437_500}, {medium, 304, 540, 1_237_436}, {high, 608, 1080, 3_500_000},
		}},
		{"720p preset, 320×240 small source: LOW covers", p720, 320, 240, []Layer{
			{low, 240, 180, 237_500}, {medium, 320, 240, 671_751},
		}},
		{"720p preset, 320×180 source: LOW only", p720, 320, 180, []Layer{
			{low, 320, 180, 237_500},
		}},
		{"720p preset, 160×120 tiny source", p720, 160, 120, []Layer{
			{low, 160, 120, 237_500},
		}},
		{"540p preset, 1080p source", p540, 1920, 1080, []Layer{
			{low, 480, 270, 353_553}, {high, 960, 540, 1_000_000},
		}},
		{"single layer, 4K source", p1080x1, 3840, 2160, []Layer{
			{high, 1920, 1080, 3_500_000},
		}},
		{"single layer, 2.39:1 source", p1080x1, 1920, 804, []Layer{
			{high, 1920, 804, 3_500_000},
		}},
		// Odd sizes: dimensions are rounded up to even, so a layer covering
		// an odd source is one pixel larger (upstream behaviour).
		{"720p preset, 641×361 odd source", p720, 641, 361, []Layer{
			{low, 320, 180, 237_500}, {medium, 640, 360, 671_751}, {high, 642, 362, 1_900_000},
		}},
		{"720p preset, 1279×719 odd source", p720, 1279, 719, []Layer{
			{low, 320, 180, 237_500}, {medium, 640, 360, 671_751}, {high, 1280, 720, 1_900_000},
		}},
		{"720p preset, 1281×721 odd source, just above 720p", p720, 1281, 721, []Layer{
			{low, 320, 180, 237_500}, {medium, 640, 360, 671_751}, {high, 1280, 720, 1_900_000},
		}},
		{"720p preset, 175×99 odd tiny source", p720, 175, 99, []Layer{
			{low, 176, 100, 237_500},
		}},
		{"720p preset, extreme 10000×2 source: no zero height", p720, 10000, 2, []Layer{
			{low, 320, 2, 237_500}, {medium, 640, 2, 671_751}, {high, 1280, 2, 1_900_000},
		}},
		{"zero source", p720, 0, 720, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := slices.Clone(c.plan.Layers)
			got := c.plan.Fit(c.srcW, c.srcH)
			require.Equal(t, c.want, got)
			require.Equal(t, before, c.plan.Layers, "plan was mutated")
			for _, l := range got {
				require.Zero(t, l.Width%2)
				require.Zero(t, l.Height%2)
				require.NotZero(t, l.Width)
				require.NotZero(t, l.Height)
			}
		})
	}
}

func TestTotalBitrate(t *testing.T) {
	cases := []struct {
		name string
		in   *livekit.IngressVideoOptions
		want uint64
	}{
		{"720p 3 layers", nil, 237_500 + 671_751 + 1_900_000},
		{"1080p 1 layer", preset(livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_1_LAYER), 3_500_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, mustPlan(t, c.in).TotalBitrate())
		})
	}
}

// FuzzFit resolves arbitrary custom layers and fits them to arbitrary
// sources, checking the invariants the transcoder relies on.
func FuzzFit(f *testing.F) {
	f.Add(uint32(1280), uint32(720), uint32(640), uint32(360), 30.0, uint32(1920), uint32(1080))
	f.Add(uint32(640), uint32(480), uint32(320), uint32(240), 0.0, uint32(720), uint32(1280))
	f.Add(uint32(2), uint32(2), uint32(2), uint32(2), 1e9, uint32(1<<32-1), uint32(1))
	f.Fuzz(func(t *testing.T, hw, hh, lw, lh uint32, fps float64, srcW, srcH uint32) {
		p, err := ResolveVideo(custom(&livekit.IngressVideoEncodingOptions{
			FrameRate: fps,
			Layers:    []*livekit.VideoLayer{vl(high, hw, hh, 0), vl(low, lw, lh, 0)},
		}))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidOptions)
			return
		}
		require.Len(t, p.Layers, 2)
		require.Positive(t, p.FrameRate)

		got := p.Fit(srcW, srcH)
		if srcW == 0 || srcH == 0 {
			require.Nil(t, got)
			return
		}
		require.NotEmpty(t, got)
		require.LessOrEqual(t, len(got), len(p.Layers))
		for i, l := range got {
			require.Equal(t, p.Layers[i].Quality, l.Quality)
			require.Equal(t, p.Layers[i].Bitrate, l.Bitrate)
			require.NotZero(t, l.Width)
			require.NotZero(t, l.Height)
			require.Zero(t, l.Width%2)
			require.Zero(t, l.Height%2)
			// Never larger than the source beyond the round-up to even.
			require.LessOrEqual(t, uint64(l.Width), uint64(srcW)+1)
			require.LessOrEqual(t, uint64(l.Height), uint64(srcH)+1)
		}
	})
}

func TestPublish(t *testing.T) {
	p := VideoPlan{Layers: []Layer{
		{Quality: livekit.VideoQuality_LOW, Width: 320, Height: 180},
		{Quality: livekit.VideoQuality_MEDIUM, Width: 640, Height: 360},
		{Quality: livekit.VideoQuality_HIGH, Width: 1280, Height: 720},
	}}
	sizes := func(ls []Layer) (out [][2]uint32) {
		for _, l := range ls {
			out = append(out, [2]uint32{l.Width, l.Height})
		}
		return out
	}
	// A browser's first pictures: every layer is published, none larger
	// than the source.
	require.Equal(t, [][2]uint32{{320, 180}, {320, 180}, {320, 180}}, sizes(p.Publish(320, 180)))
	require.Equal(t, [][2]uint32{{320, 180}, {640, 360}, {640, 360}}, sizes(p.Publish(640, 360)))
	// 4:3 inside the 16:9 boxes.
	require.Equal(t, [][2]uint32{{240, 180}, {480, 360}, {960, 720}}, sizes(p.Publish(1440, 1080)))
	// Portrait.
	require.Equal(t, [][2]uint32{{102, 180}, {202, 360}, {406, 720}}, sizes(p.Publish(1080, 1920)))
	// Unknown size: the boxes.
	require.Equal(t, [][2]uint32{{320, 180}, {640, 360}, {1280, 720}}, sizes(p.Publish(0, 0)))

	w, h, covers := FitLayer(1280, 720, 960, 540)
	require.Equal(t, [3]any{uint32(960), uint32(540), true}, [3]any{w, h, covers})
	w, h, covers = FitLayer(640, 360, 960, 540)
	require.Equal(t, [3]any{uint32(640), uint32(360), false}, [3]any{w, h, covers})
}
