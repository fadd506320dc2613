package simulcast

import (
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

func preset(p livekit.IngressVideoEncodingPreset) *livekit.IngressVideoOptions {
	return &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Preset{Preset: p}}
}

const (
	low    = livekit.VideoQuality_LOW
	medium = livekit.VideoQuality_MEDIUM
	high   = livekit.VideoQuality_HIGH
	h264   = livekit.VideoCodec_H264_BASELINE
	vp8    = livekit.VideoCodec_VP8
)

// The integers are those of upstream pkg/params/presets.go (19017c82).
func TestResolveVideoPresets(t *testing.T) {
	cases := []struct {
		name string
		in   *livekit.IngressVideoOptions
		want VideoPlan
	}{
		{"nil options", nil, VideoPlan{h264, 30, []Layer{
			{low, 320, 180, 237_500}, {medium, 640, 360, 671_751}, {high, 1280, 720, 1_900_000},
		}}},
		{"no encoding options", &livekit.IngressVideoOptions{Source: livekit.TrackSource_CAMERA}, VideoPlan{h264, 30, []Layer{
			{low, 320, 180, 237_500}, {medium, 640, 360, 671_751}, {high, 1280, 720, 1_900_000},
		}}},
		{"H264_720P_30FPS_3_LAYERS", preset(livekit.IngressVideoEncodingPreset_H264_720P_30FPS_3_LAYERS), VideoPlan{h264, 30, []Layer{
			{low, 320, 180, 237_500}, {medium, 640, 360, 671_751}, {high, 1280, 720, 1_900_000},
		}}},
		{"H264_1080P_30FPS_3_LAYERS", preset(livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_3_LAYERS), VideoPlan{h264, 30, []Layer{
			{low, 480, 270, 437_500}, {medium, 960, 540, 1_237_436}, {high, 1920, 1080, 3_500_000},
		}}},
		{"H264_540P_25FPS_2_LAYERS", preset(livekit.IngressVideoEncodingPreset_H264_540P_25FPS_2_LAYERS), VideoPlan{h264, 25, []Layer{
			{low, 480, 270, 353_553}, {high, 960, 540, 1_000_000},
		}}},
		{"H264_720P_30FPS_1_LAYER", preset(livekit.IngressVideoEncodingPreset_H264_720P_30FPS_1_LAYER), VideoPlan{h264, 30, []Layer{
			{high, 1280, 720, 1_900_000},
		}}},
		{"H264_1080P_30FPS_1_LAYER", preset(livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_1_LAYER), VideoPlan{h264, 30, []Layer{
			{high, 1920, 1080, 3_500_000},
		}}},
		{"H264_720P_30FPS_3_LAYERS_HIGH_MOTION", preset(livekit.IngressVideoEncodingPreset_H264_720P_30FPS_3_LAYERS_HIGH_MOTION), VideoPlan{h264, 30, []Layer{
			{low, 320, 180, 312_500}, {medium, 640, 360, 883_883}, {high, 1280, 720, 2_500_000},
		}}},
		{"H264_1080P_30FPS_3_LAYERS_HIGH_MOTION", preset(livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_3_LAYERS_HIGH_MOTION), VideoPlan{h264, 30, []Layer{
			{low, 480, 270, 562_500}, {medium, 960, 540, 1_590_990}, {high, 1920, 1080, 4_500_000},
		}}},
		{"H264_540P_25FPS_2_LAYERS_HIGH_MOTION", preset(livekit.IngressVideoEncodingPreset_H264_540P_25FPS_2_LAYERS_HIGH_MOTION), VideoPlan{h264, 25, []Layer{
			{low, 480, 270, 459_619}, {high, 960, 540, 1_300_000},
		}}},
		{"H264_720P_30FPS_1_LAYER_HIGH_MOTION", preset(livekit.IngressVideoEncodingPreset_H264_720P_30FPS_1_LAYER_HIGH_MOTION), VideoPlan{h264, 30, []Layer{
			{high, 1280, 720, 2_500_000},
		}}},
		{"H264_1080P_30FPS_1_LAYER_HIGH_MOTION", preset(livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_1_LAYER_HIGH_MOTION), VideoPlan{h264, 30, []Layer{
			{high, 1920, 1080, 4_500_000},
		}}},
	}

	// Every preset of the protocol enum is covered.
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.name] = true
	}
	for _, name := range livekit.IngressVideoEncodingPreset_name {
		require.True(t, covered[name], "preset %s has no test case", name)
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolveVideo(c.in)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestResolveVideoPresetsIndependent(t *testing.T) {
	// Plans must not share layer slices: a caller editing one must not
	// change the next.
	a, err := ResolveVideo(nil)
	require.NoError(t, err)
	a.Layers[0].Width = 2
	b, err := ResolveVideo(nil)
	require.NoError(t, err)
	require.Equal(t, uint32(320), b.Layers[0].Width)
}

func TestScaleBitrate(t *testing.T) {
	cases := []struct {
		name          string
		w, h          uint32
		fps           float64
		want          uint32
		wantSaturated bool
	}{
		{"1080p30 is the reference", 1920, 1080, 30, 3_500_000, false},
		{"720p30", 1280, 720, 30, 1_905_158, false},
		{"1080p60", 1920, 1080, 60, 5_886_274, false},
		{"480p25 4:3", 640, 480, 25, 728_960, false},
		{"180p15", 320, 180, 15, 141_601, false},
		{"saturates", 65536, 65536, 1e6, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := scaleBitrate(refBitrate, refWidth, refHeight, refFrameRate, c.w, c.h, c.fps)
			if c.wantSaturated {
				require.Equal(t, uint32(1<<32-1), got)
				return
			}
			require.Equal(t, c.want, got)
		})
	}
}
