package simulcast

import (
	"math"
)

// Fit returns the layers actually produced for a source of srcW×srcH pixels,
// ordered LOW → HIGH. It follows upstream pkg/media/webrtc_sink.go
// (filterAndSortLayersByQuality / applyResolutionToLayer):
//
//   - each layer keeps the source aspect ratio inside its nominal box: start
//     from the source size; if wider than the box, clamp the width and derive
//     the height (integer division, truncating); then if taller than the
//     box, clamp the height and derive the width;
//   - both dimensions are then rounded UP to even, so an odd source
//     dimension yields a layer one pixel larger than the source (upstream
//     quirk, kept so the layer sizes match);
//   - the ladder stops after the first layer that covers the source
//     (width ≥ srcW and height ≥ srcH): higher layers would be duplicates;
//   - bitrates are the nominal ones, not rescaled to the fitted size.
//
// Fit does not modify p. A zero source dimension (upstream would divide by
// zero) yields nil. Where upstream would derive a 0 dimension (a source
// more than twice as extreme in aspect ratio as the layer is large, e.g.
// 10000×1), the layer gets 2 instead, which an encoder can take.
func (p VideoPlan) Fit(srcW, srcH uint32) []Layer {
	if srcW == 0 || srcH == 0 {
		return nil
	}
	sw, sh := uint64(srcW), uint64(srcH)

	var out []Layer
	for _, l := range p.Layers {
		w, h := sw, sh
		if w > uint64(l.Width) {
			w = uint64(l.Width)
			h = w * sh / sw
		}
		if h > uint64(l.Height) {
			h = uint64(l.Height)
			w = h * sw / sh
		}
		w, h = evenUp(w), evenUp(h)

		l.Width, l.Height = uint32(w), uint32(h)
		out = append(out, l)

		if w >= sw && h >= sh {
			break
		}
	}
	return out
}

// evenUp rounds v up to an even number, at least 2 and at most the largest
// even uint32.
func evenUp(v uint64) uint64 {
	v = (v + 1) &^ 1
	switch {
	case v == 0:
		return 2
	case v > math.MaxUint32:
		return math.MaxUint32 - 1
	}
	return v
}
