package simulcast

import (
	"fmt"
	"math"
	"slices"

	"github.com/livekit/protocol/livekit"
)

// ResolveVideo validates the video options of an ingress and returns its
// video plan. nil options, or options without encoding options, mean
// DefaultVideoPreset.
//
// A preset expands to its fixed ladder. Custom options get these defaults
// (upstream pkg/params/params.go): codec H264_BASELINE, frame rate 30, and,
// when there are no layers, 1280×720 @1.7 Mbps in 3 layers; a layer with
// bitrate 0 gets 3.5 Mbps × (fps/30)^0.75 × (area/1920·1080)^0.75.
//
// Every error is a *FieldError wrapping ErrInvalidOptions.
func ResolveVideo(o *livekit.IngressVideoOptions) (VideoPlan, error) {
	if o == nil {
		return videoPresets[DefaultVideoPreset].plan(), nil
	}

	switch o.Source {
	case livekit.TrackSource_UNKNOWN, livekit.TrackSource_CAMERA, livekit.TrackSource_SCREEN_SHARE:
	default:
		return VideoPlan{}, fieldErrorf("video.source",
			"%s is not a video source (want CAMERA or SCREEN_SHARE)", o.Source)
	}

	switch e := o.EncodingOptions.(type) {
	case nil:
		return videoPresets[DefaultVideoPreset].plan(), nil

	case *livekit.IngressVideoOptions_Preset:
		p, ok := videoPresets[e.Preset]
		if !ok {
			return VideoPlan{}, fieldErrorf("video.preset", "unknown video preset %d", int32(e.Preset))
		}
		return p.plan(), nil

	case *livekit.IngressVideoOptions_Options:
		return resolveVideoOptions(e.Options)

	default:
		// Unreachable with the generated oneof wrappers.
		return VideoPlan{}, fieldErrorf("video", "unsupported encoding options %T", e)
	}
}

// resolveVideoOptions validates custom options (protocol
// ValidateVideoEncodingOptionsConsistency, in the same order, so the first
// problem reported is the one upstream reports) and applies the defaults.
func resolveVideoOptions(o *livekit.IngressVideoEncodingOptions) (VideoPlan, error) {
	const field = "video.options"
	if o == nil {
		return VideoPlan{}, fieldErrorf(field, "must not be empty")
	}

	// Upstream only refuses < 0. NaN and ±Inf pass its check and end up as
	// a garbage videorate max-rate and bitrate; we refuse them.
	if o.FrameRate < 0 || math.IsNaN(o.FrameRate) || math.IsInf(o.FrameRate, 0) {
		return VideoPlan{}, fieldErrorf(field+".frame_rate",
			"must be a finite number >= 0, 0 for the default %d (got %v)", defaultFrameRate, o.FrameRate)
	}

	codec := o.VideoCodec
	switch codec {
	case livekit.VideoCodec_DEFAULT_VC:
		codec = livekit.VideoCodec_H264_BASELINE
	case livekit.VideoCodec_H264_BASELINE, livekit.VideoCodec_VP8:
	default:
		return VideoPlan{}, fieldErrorf(field+".video_codec",
			"unsupported codec %s (want H264_BASELINE or VP8)", o.VideoCodec)
	}

	if err := validateLayers(o.Layers); err != nil {
		return VideoPlan{}, err
	}

	frameRate := o.FrameRate
	if frameRate == 0 {
		frameRate = defaultFrameRate
	}

	plan := VideoPlan{Codec: codec, FrameRate: frameRate}
	if len(o.Layers) == 0 {
		plan.Layers = ladder(defaultTopWidth, defaultTopHeight, defaultTopBitrate, defaultLayerCount)
		return plan, nil
	}

	for _, l := range o.Layers {
		if !usableQuality(l.Quality) {
			// Upstream accepts such a layer and its pipeline silently skips
			// it (it only builds LOW..HIGH); we drop it here.
			continue
		}
		br := l.Bitrate
		if br == 0 {
			br = scaleBitrate(refBitrate, refWidth, refHeight, refFrameRate, l.Width, l.Height, frameRate)
		}
		plan.Layers = append(plan.Layers, Layer{Quality: l.Quality, Width: l.Width, Height: l.Height, Bitrate: br})
	}
	if len(plan.Layers) == 0 {
		// Upstream would start a session with no video output at all.
		return VideoPlan{}, fieldErrorf(field+".layers", "no layer has quality LOW, MEDIUM or HIGH")
	}
	slices.SortFunc(plan.Layers, func(a, b Layer) int { return int(a.Quality) - int(b.Quality) })
	return plan, nil
}

// validateLayers checks each layer's dimensions and quality, then that size
// does not decrease as quality increases (width and height separately;
// equal is fine), whatever the order of the list.
func validateLayers(layers []*livekit.VideoLayer) error {
	byQuality := make(map[livekit.VideoQuality]int, len(layers))

	for i, l := range layers {
		f := fmt.Sprintf("video.options.layers[%d]", i)
		switch {
		case l == nil:
			return fieldErrorf(f, "must not be null")
		case l.Width == 0:
			return fieldErrorf(f+".width", "must be non-zero")
		case l.Height == 0:
			return fieldErrorf(f+".height", "must be non-zero")
		case l.Width%2 != 0:
			return fieldErrorf(f+".width", "must be even (got %d)", l.Width)
		case l.Height%2 != 0:
			return fieldErrorf(f+".height", "must be even (got %d)", l.Height)
		}
		if j, dup := byQuality[l.Quality]; dup {
			return fieldErrorf(f+".quality", "duplicate quality %s (also layers[%d])", l.Quality, j)
		}
		byQuality[l.Quality] = i
	}

	prev := -1
	for q := livekit.VideoQuality_LOW; q <= livekit.VideoQuality_HIGH; q++ {
		i, ok := byQuality[q]
		if !ok {
			continue
		}
		if prev >= 0 {
			l, p := layers[i], layers[prev]
			f := fmt.Sprintf("video.options.layers[%d]", i)
			if l.Height < p.Height {
				return fieldErrorf(f+".height",
					"%s layer must not be shorter than %s layer layers[%d] (height %d) (got %d)",
					l.Quality, p.Quality, prev, p.Height, l.Height)
			}
			if l.Width < p.Width {
				return fieldErrorf(f+".width",
					"%s layer must not be narrower than %s layer layers[%d] (width %d) (got %d)",
					l.Quality, p.Quality, prev, p.Width, l.Width)
			}
		}
		prev = i
	}
	return nil
}

// usableQuality reports whether q is a quality a layer can be published as.
func usableQuality(q livekit.VideoQuality) bool {
	return q >= livekit.VideoQuality_LOW && q <= livekit.VideoQuality_HIGH
}
