package simulcast

import (
	"math"

	"github.com/livekit/protocol/livekit"
)

// DefaultVideoPreset is used when an ingress has no video encoding options.
const DefaultVideoPreset = livekit.IngressVideoEncodingPreset_H264_720P_30FPS_3_LAYERS

// DefaultAudioPreset is used when an ingress has no audio encoding options.
const DefaultAudioPreset = livekit.IngressAudioEncodingPreset_OPUS_STEREO_96KBPS

// Reference point of the bitrate model: a layer whose custom bitrate is 0
// gets refBitrate scaled by (fps/refFrameRate)^0.75 × (area/refArea)^0.75
// (upstream pkg/params/presets.go).
const (
	refBitrate   = 3_500_000
	refWidth     = 1920
	refHeight    = 1080
	refFrameRate = 30
)

// defaultFrameRate applies to custom options with frame_rate 0.
const defaultFrameRate = refFrameRate

// Custom options without layers get this top layer, in 3 layers.
const (
	defaultTopWidth   = 1280
	defaultTopHeight  = 720
	defaultTopBitrate = 1_700_000
	defaultLayerCount = 3
)

// videoPreset describes a preset by its top layer; the lower layers are
// derived by ladder.
type videoPreset struct {
	frameRate     float64
	width, height uint32
	bitrate       uint32
	layers        int
}

// videoPresets is the upstream preset table (pkg/params/presets.go). All are
// H.264 constrained baseline.
//
// Upstream quirk: the protocol's enum comments say "1980x1080" for the 1080p
// presets, while the ingress encodes 1920×1080; we follow the ingress.
var videoPresets = map[livekit.IngressVideoEncodingPreset]videoPreset{
	livekit.IngressVideoEncodingPreset_H264_720P_30FPS_3_LAYERS:              {30, 1280, 720, 1_900_000, 3},
	livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_3_LAYERS:             {30, 1920, 1080, 3_500_000, 3},
	livekit.IngressVideoEncodingPreset_H264_540P_25FPS_2_LAYERS:              {25, 960, 540, 1_000_000, 2},
	livekit.IngressVideoEncodingPreset_H264_720P_30FPS_1_LAYER:               {30, 1280, 720, 1_900_000, 1},
	livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_1_LAYER:              {30, 1920, 1080, 3_500_000, 1},
	livekit.IngressVideoEncodingPreset_H264_720P_30FPS_3_LAYERS_HIGH_MOTION:  {30, 1280, 720, 2_500_000, 3},
	livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_3_LAYERS_HIGH_MOTION: {30, 1920, 1080, 4_500_000, 3},
	livekit.IngressVideoEncodingPreset_H264_540P_25FPS_2_LAYERS_HIGH_MOTION:  {25, 960, 540, 1_300_000, 2},
	livekit.IngressVideoEncodingPreset_H264_720P_30FPS_1_LAYER_HIGH_MOTION:   {30, 1280, 720, 2_500_000, 1},
	livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_1_LAYER_HIGH_MOTION:  {30, 1920, 1080, 4_500_000, 1},
}

// audioPresets is the upstream audio preset table. OPUS_MONO_64KBS is
// spelled that way in the protocol.
var audioPresets = map[livekit.IngressAudioEncodingPreset]AudioPlan{
	livekit.IngressAudioEncodingPreset_OPUS_STEREO_96KBPS: {Channels: 2, Bitrate: 96_000},
	livekit.IngressAudioEncodingPreset_OPUS_MONO_64KBS:    {Channels: 1, Bitrate: 64_000},
}

// plan expands a preset into its VideoPlan.
func (p videoPreset) plan() VideoPlan {
	return VideoPlan{
		Codec:     livekit.VideoCodec_H264_BASELINE,
		FrameRate: p.frameRate,
		Layers:    ladder(p.width, p.height, p.bitrate, p.layers),
	}
}

// ladder builds n layers (1 ≤ n ≤ 3) below and including the top layer
// w×h@bitrate: layer i (0 = top) is (w>>i)×(h>>i) with the bitrate scaled by
// the area ratio ^0.75, at the same frame rate. Qualities run HIGH, then
// n-2 … 0, so two layers are HIGH and LOW. The result is ordered LOW → HIGH
// (upstream returns HIGH first).
func ladder(w, h, bitrate uint32, n int) []Layer {
	layers := make([]Layer, n)
	for i := range n {
		q := livekit.VideoQuality(n - 1 - i)
		if i == 0 {
			q = livekit.VideoQuality_HIGH
		}
		lw, lh := w>>i, h>>i
		layers[n-1-i] = Layer{
			Quality: q,
			Width:   lw,
			Height:  lh,
			Bitrate: scaleBitrate(bitrate, w, h, 1, lw, lh, 1),
		}
	}
	return layers
}

// scaleBitrate returns ref × (fps/refFPS)^0.75 × (w·h / refW·refH)^0.75,
// truncated to integer bps.
//
// The floating-point operations are performed in the same order as upstream's
// getBitrateForParams so that truncation gives the same integers. Upstream
// converts an out-of-range float straight to uint32 (platform-dependent
// garbage); we saturate at math.MaxUint32 instead.
func scaleBitrate(ref, refW, refH uint32, refFPS float64, w, h uint32, fps float64) uint32 {
	ratio := math.Pow(fps/refFPS, 0.75)
	ratio *= math.Pow(float64(w)*float64(h)/(float64(refW)*float64(refH)), 0.75)
	v := float64(ref) * ratio
	if v >= math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}
