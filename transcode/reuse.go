package transcode

import (
	"fmt"
	"time"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/vp8"
	"github.com/tributary-ingress/tributary/media"
)

// Top-layer reuse (VideoConfig.ReuseTop): when the source already is what
// the top layer would be, the source's own frames are sent as that layer
// and only the lower layers are encoded. For the default 720p preset and a
// 720p source, the top layer's encode is about three quarters of the
// transcoding CPU.
//
// The source qualifies, measured on the frames themselves and not on what
// it declares, when all of these hold:
//   - its codec is the output codec: H.264 Constrained Baseline (the
//     profile the track is negotiated with, profile-level-id 42e01f, so
//     every viewer's decoder takes it), or VP8;
//   - no B-frame was ever seen (h264.BFrameDetector);
//   - every keyframe's size (from its SPS or VP8 header) is exactly the
//     top layer's box;
//   - over at least reuseWindow of media, its frame rate is at most the
//     output's cap (plus reuseRateTolerance), so the cap would have kept
//     every picture anyway;
//   - over the same window, its bitrate is at most reuseMaxBitrateFactor
//     times the top layer's target;
//   - it sends a keyframe at least every reuseMaxKeyInterval: keyframes
//     of a forwarded layer come only from the source (a keyframe request
//     cannot be passed on to an RTMP, SRT or URL source), so a viewer
//     switching to that layer waits for the next one.
//
// Forwarding starts at a source keyframe that closes a window meeting all
// of these (the layer's encoder has sent every picture before it). When
// the source stops qualifying while forwarded — a B-frame, a keyframe of
// another size or profile, a window too fast or too dense, a keyframe
// interval too long — the layer goes back to being encoded for the rest of
// the session, starting with an encoded keyframe of the next picture, so
// a viewer sees no break. Only when the decoder was resting (nobody
// watched any layer) does the switch wait for the source's next keyframe,
// forwarding until then, because the decoder can only start at one.
//
// The source is decoded while anyone watches, the forwarded layer
// included, so that a viewer moving down to a lower layer that dynacast
// had paused gets it at once; it rests only when nobody watches (the
// forwarded frames still go out). Pictures the decoder gives out at or before the last forwarded one
// (a reordering decoder after B-frames appear) are not encoded again.
const (
	reuseWindow           = 2 * time.Second
	reuseRateTolerance    = 1.05
	reuseMaxBitrateFactor = 2
	reuseMaxKeyInterval   = 4 * time.Second
)

// reuseState is where a reuseGate is.
type reuseState int

const (
	reuseMeasuring  reuseState = iota // the top layer is encoded; the source is measured
	reuseForwarding                   // the top layer is the source's frames
	reuseEnding                       // forwarded until the next keyframe, then encoded
	reuseOff                          // encoded for good
)

// reuseGate decides, frame by frame, whether the source frame is sent as
// the top layer (decode goroutine only).
type reuseGate struct {
	codec     media.CodecID // the output codec
	w, h      int           // the top layer's box
	maxRate   float64       // the output frame-rate cap; 0 for none
	maxBits   float64       // bits per second
	clockRate int

	state   reuseState
	reason  string // why the state last changed
	bframes h264.BFrameDetector

	lastKey    int64 // PTS of the last keyframe
	seenKey    bool
	winStart   int64 // PTS where the current window started (a keyframe)
	winFrames  int
	winBytes   int64
	winOK      bool // the last window that ended met the rate and bitrate bounds
	windowOpen bool
}

// newReuseGate returns the gate of a transcoder to codec whose top layer is
// top, capped at maxRate pictures per second; nil when reuse cannot apply
// (another source codec).
func newReuseGate(src *media.Track, codec media.CodecID, top LayerTarget, maxRate float64) *reuseGate {
	if src.Codec != codec || (codec != media.CodecH264 && codec != media.CodecVP8) || src.ClockRate <= 0 {
		return nil
	}
	return &reuseGate{codec: codec, w: top.Width, h: top.Height, maxRate: maxRate,
		maxBits: float64(reuseMaxBitrateFactor * top.Bitrate), clockRate: src.ClockRate}
}

// forwarding reports whether the top layer is the source's frames.
func (g *reuseGate) forwarding() bool {
	return g != nil && (g.state == reuseForwarding || g.state == reuseEnding)
}

// observe takes the next source frame, in decode order, and reports
// whether it is sent as the top layer. decoding tells whether the decoder
// has decoded every frame since the last keyframe (it can give the
// encoder the picture of f). changed is true when the state changed at
// this frame (see reason).
func (g *reuseGate) observe(f *media.Frame, decoding bool) (forward, changed bool) {
	before := g.state
	g.step(f, decoding)
	return g.forwarding(), g.state != before
}

func (g *reuseGate) step(f *media.Frame, decoding bool) {
	if g.state == reuseOff {
		return
	}
	bad := ""
	if g.codec == media.CodecH264 && g.bframes.Observe(f.Data, f.PTS) {
		bad = "the source has B-frames"
	}
	if bad == "" && f.Key {
		bad = g.keyframe(f)
	}
	if bad == "" && g.seenKey && !f.Key && g.ticks(f.PTS-g.lastKey) > reuseMaxKeyInterval {
		bad = fmt.Sprintf("no source keyframe for more than %v", reuseMaxKeyInterval)
	}
	if g.windowOpen {
		g.winFrames++
		g.winBytes += int64(frameBytes(f))
	}

	switch g.state {
	case reuseMeasuring:
		switch {
		case g.bframes.Detected():
			g.set(reuseOff, bad)
		case bad != "":
			g.reason = bad
		case f.Key && g.winOK:
			g.set(reuseForwarding, "the source is what the top layer would be")
		}
	case reuseForwarding:
		switch {
		case bad == "":
		case decoding || f.Key:
			g.set(reuseOff, bad)
		default:
			g.set(reuseEnding, bad)
		}
	case reuseEnding:
		if f.Key {
			g.state = reuseOff
		}
	}
}

func (g *reuseGate) set(s reuseState, reason string) {
	g.state, g.reason = s, reason
}

// keyframe checks a keyframe's size and profile and closes the window
// when it spans reuseWindow; it returns what disqualifies the source, or
// "". The window's frames start at this keyframe, so every window is
// whole keyframe intervals.
func (g *reuseGate) keyframe(f *media.Frame) string {
	bad := g.checkPicture(f)
	if bad == "" && g.seenKey && g.ticks(f.PTS-g.lastKey) > reuseMaxKeyInterval {
		bad = fmt.Sprintf("source keyframes more than %v apart", reuseMaxKeyInterval)
	}
	g.seenKey, g.lastKey = true, f.PTS
	if bad != "" {
		g.winOK, g.windowOpen = false, false
		return bad
	}
	if !g.windowOpen {
		g.windowOpen, g.winStart, g.winFrames, g.winBytes = true, f.PTS, 0, 0
		return ""
	}
	span := g.ticks(f.PTS - g.winStart)
	if span < reuseWindow {
		return ""
	}
	secs := span.Seconds()
	rate, bits := float64(g.winFrames)/secs, float64(g.winBytes*8)/secs
	g.winStart, g.winFrames, g.winBytes = f.PTS, 0, 0
	switch {
	case g.maxRate > 0 && rate > g.maxRate*reuseRateTolerance:
		bad = fmt.Sprintf("the source's %.1f fps is above the layer's %.0f", rate, g.maxRate)
	case bits > g.maxBits:
		bad = fmt.Sprintf("the source's %.0f kbps is above %d times the layer's target", bits/1000, reuseMaxBitrateFactor)
	}
	g.winOK = bad == ""
	return bad
}

// checkPicture returns what makes keyframe f unfit for the top layer, or
// "".
func (g *reuseGate) checkPicture(f *media.Frame) string {
	var w, h int
	switch g.codec {
	case media.CodecH264:
		var sps *h264.SPS
		for _, n := range f.Data {
			if h264.Type(n) == h264.NALUTypeSPS {
				s, err := h264.ParseSPS(n)
				if err != nil {
					return "a keyframe's SPS cannot be read"
				}
				sps = s
				break
			}
		}
		if sps == nil {
			return "a keyframe without its SPS"
		}
		if sps.ProfileIDC != h264.ProfileBaseline || sps.ConstraintFlags&0x40 == 0 {
			return fmt.Sprintf("the source's H.264 profile %d (constraints %#x) is not Constrained Baseline", sps.ProfileIDC, sps.ConstraintFlags)
		}
		w, h = sps.Width, sps.Height
	case media.CodecVP8:
		if len(f.Data) == 0 {
			return "an empty keyframe"
		}
		var err error
		if w, h, err = vp8.ParseKeyframeSize(f.Data[0]); err != nil {
			return "a keyframe's size cannot be read"
		}
	}
	if w != g.w || h != g.h {
		return fmt.Sprintf("the source is %dx%d, not the top layer's %dx%d", w, h, g.w, g.h)
	}
	return ""
}

// ticks converts a PTS difference to a duration.
func (g *reuseGate) ticks(d int64) time.Duration {
	return media.Duration(d, g.clockRate)
}

func frameBytes(f *media.Frame) int {
	n := 0
	for _, d := range f.Data {
		n += len(d)
	}
	return n
}

// reuseTop runs the top-layer reuse decision on source frame f and, when
// the top layer is the source, queues f for it (decode goroutine). The
// layer's queue is waited for even for a live source: the layer goroutine
// does nothing but hand the frame on, and a forwarded frame dropped would
// break the pictures after it until the source's next keyframe.
func (v *Video) reuseTop(f *media.Frame) {
	top := v.layers[len(v.layers)-1]
	fwd, changed := v.reuse.observe(f, !v.resting)
	if changed {
		switch {
		case fwd && v.reuse.state == reuseForwarding:
			v.log.Infow("video top layer forwarded from the source, only the lower layers are encoded",
				"reason", v.reuse.reason, "layer", fmt.Sprintf("%dx%d", top.conf.Width, top.conf.Height))
		case fwd:
			v.log.Infow("video top layer encoded again from the source's next keyframe", "reason", v.reuse.reason)
		default:
			v.log.Infow("video top layer encoded", "reason", v.reuse.reason)
			top.forceKey.Store(true) // the encoder resumes with a keyframe
		}
	}
	if !fwd {
		return
	}
	v.lastFwd, v.fwdSeen = f.PTS, true
	v.forwarded++
	top.in <- picture{src: f, wall: f.Wall}
}

// isForwarded reports whether layer l is the source's frames (decode
// goroutine).
func (v *Video) isForwarded(l *layer) bool {
	return l.idx == len(v.layers)-1 && v.reuse.forwarding()
}

// forwardedAlready reports whether the picture at pts of layer l was sent
// as the source's frame before the layer went back to being encoded: a
// decoder that reorders (B-frames appeared) gives out pictures at or
// before the last frame forwarded (decode goroutine).
func (v *Video) forwardedAlready(l *layer, pts int64) bool {
	if !v.fwdSeen || l.idx != len(v.layers)-1 {
		return false
	}
	if pts <= v.lastFwd {
		return true
	}
	v.fwdSeen = false // past it: every later picture is encoded
	return false
}

// emitSource sends source frame f as layer l's (layer goroutine).
func (v *Video) emitSource(l *layer, f *media.Frame) {
	if t := l.srcTrack; t == nil || t.Width != f.Track.Width || t.Height != f.Track.Height || t.ClockRate != f.Track.ClockRate {
		nt := *f.Track
		nt.ID, nt.Config = l.idx, nil
		l.srcTrack = &nt
	}
	v.conf.Output(l.idx, &media.Frame{Track: l.srcTrack, PTS: f.PTS, DTS: f.DTS, Key: f.Key, Wall: f.Wall, Data: f.Data})
}
