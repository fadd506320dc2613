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
	var out []Layer
	for _, l := range p.Layers {
		var covers bool
		l.Width, l.Height, covers = FitLayer(l.Width, l.Height, srcW, srcH)
		out = append(out, l)
		if covers {
			break
		}
	}
	return out
}

// FitLayer returns the size of a layer with the nominal box boxW×boxH for
// a source of srcW×srcH (the rule of Fit), and whether it covers the
// source: the layers above a covering one would be duplicates of it (or
// upscaled), so they are not produced.
func FitLayer(boxW, boxH, srcW, srcH uint32) (w, h uint32, covers bool) {
	if srcW == 0 || srcH == 0 {
		return boxW, boxH, false
	}
	sw, sh := uint64(srcW), uint64(srcH)
	fw, fh := sw, sh
	if fw > uint64(boxW) {
		fw = uint64(boxW)
		fh = fw * sh / sw
	}
	if fh > uint64(boxH) {
		fh = uint64(boxH)
		fw = fh * sw / sh
	}
	fw, fh = evenUp(fw), evenUp(fh)
	return uint32(fw), uint32(fh), fw >= sw && fh >= sh
}

// Publish returns the layers to publish for a source of srcW×srcH when
// transcoding: every layer of the plan, each at the size Fit gives it,
// and the layers above the first one that covers the source at that one's
// size. Unlike Fit it keeps the layers the source is too small for, so
// that a source that grows mid-stream (a browser ramping up its
// bandwidth, an encoder changing its canvas) gets them without
// republishing the track; until then they carry no media and LiveKit
// gives their viewers the largest layer that does (as it does for a
// browser's own simulcast). The sizes are what the track advertises (the
// top one is the track's size, as LiveKit's worker advertises it); a
// source that changes size later is not re-advertised. A zero size keeps
// the boxes.
func (p VideoPlan) Publish(srcW, srcH uint32) []Layer {
	out := make([]Layer, len(p.Layers))
	for i, l := range p.Layers {
		out[i] = l
		out[i].Width, out[i].Height, _ = FitLayer(l.Width, l.Height, srcW, srcH)
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
