package transcode

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/simulcast"
)

// layer is one output layer of a Video: its encoder, the pictures made
// for it and the goroutine that encodes them. This file holds the layers'
// side of the transcoder: planning their sizes, scaling and handing
// pictures to them (distribute), and their encode loop.
type layer struct {
	idx  int
	conf LayerTarget
	// enc encodes pictures of encW×encH; only the layer goroutine uses it
	// (it reopens it when the pictures change size).
	enc        *ffi.VideoEncoder
	encW, encH int
	encConf    ffi.VideoEncoderConfig
	// forceKey asks the layer goroutine for a keyframe (any goroutine).
	forceKey atomic.Bool
	in       chan picture
	track    *media.Track
	// w and h are the size this layer's pictures are made at, and fits
	// whether the source needs this layer (see LayerTarget); decode goroutine.
	w, h int
	fits bool
	// scaler makes this layer's pictures; only the decode goroutine uses it.
	scaler *ffi.Scaler
	// free holds this layer's pictures that are not in use: the decode
	// goroutine takes one, scales into it and queues it; the layer
	// goroutine gives it back once encoded. allocated counts them.
	free      chan *ffi.VideoFrame
	allocated int
	dropped   atomic.Int64
	// paused is the wanted state (SetLayerActive, any goroutine); running
	// is the decode goroutine's view of it, so a resume is seen once.
	paused  atomic.Bool
	running bool
	// srcTrack is the track of the source frames this layer sends as they
	// are (top-layer reuse); layer goroutine.
	srcTrack *media.Track
}

// picture is one input of a layer's encoder: a picture from the layer's
// pool, or the decoded picture itself (shared) when it already has the
// layer's size.
type picture struct {
	// src, when set, is a source frame the layer sends as it is (top-layer
	// reuse); f is then nil.
	src    *media.Frame
	f      *ffi.VideoFrame
	shared *sharedFrame
	// pooled marks a picture of the layer's pool (not the decoded one).
	pooled bool
	// wall is the arrival time of the source frame, carried to the output
	// so the session paces transcoded frames on the input's clock.
	wall time.Time
}

// done gives the picture back once the layer has encoded it.
func (p picture) done(l *layer) {
	if p.f == nil {
		return // a forwarded source frame
	}
	if p.shared != nil {
		p.shared.release()
		return
	}
	l.free <- p.f // never blocks: free has room for every picture
}

// sharedFrame is a decoded picture used as is by the layers of its size;
// the last one to finish releases it.
type sharedFrame struct {
	f    *ffi.VideoFrame
	refs atomic.Int32
}

func (s *sharedFrame) release() {
	if s.refs.Add(-1) == 0 {
		s.f.Release()
	}
}

// distribute makes every layer's picture from the decoded picture p and
// queues them. Scaling happens here, largest layer first, each layer from
// the smallest picture already made that covers it (1080p → 720p → 360p →
// 180p): a 2:1 step from 720p costs a fraction of one from the full
// source. A layer whose size and format are the source's encodes p itself.
// All pictures are made before any is queued, so nothing read here is
// handed to (and released by) a layer goroutine before the reading ends.
func (v *Video) distribute(p *ffi.VideoFrame, wall time.Time) {
	if p.Width() != v.srcW || p.Height() != v.srcH {
		v.plan(p.Width(), p.Height())
	}
	direct := int32(0)
	prev := p
	for _, i := range v.order {
		l := v.layers[i]
		v.pics[i] = picture{}
		if v.isForwarded(l) || v.forwardedAlready(l, p.PTS) {
			continue // sent as the source's frame
		}
		if !v.layerRunning(l) {
			continue
		}
		if p.Width() == l.w && p.Height() == l.h && p.Format() == "yuv420p" {
			v.pics[i].f = p
			direct++
			continue
		}
		f := v.takePicture(l)
		if f == nil {
			v.dropLayer(l)
			continue
		}
		src := prev
		if src.Width() < l.w || src.Height() < l.h {
			src = p
		}
		v.pics[i] = picture{f: f, pooled: true} // back to the pool if a panic ends the transcoder here
		if v.testHookScale != nil {
			v.testHookScale()
		}
		if err := v.scale(l, src, f); err != nil {
			v.pics[i] = picture{}
			l.free <- f
			v.fail(fmt.Errorf("layer %dx%d: %w", l.w, l.h, err))
			continue
		}
		v.pics[i].f = f
		prev = f
	}
	var sf *sharedFrame
	if direct > 0 {
		sf = &sharedFrame{f: p}
		sf.refs.Store(direct)
	} else {
		p.Release()
	}
	for i, l := range v.layers {
		pic := v.pics[i]
		v.pics[i] = picture{}
		if pic.f == nil {
			continue
		}
		if pic.f == p {
			pic.shared = sf
		}
		pic.wall = wall
		if v.conf.Blocking {
			l.in <- pic
			continue
		}
		select {
		case l.in <- pic:
			continue
		default:
		}
		if len(v.in) < decodeQueue/2 && v.waitLayer(l, pic) {
			continue
		}
		v.dropLayer(l)
		pic.done(l)
	}
}

// waitLayer queues pic for l, waiting at most burstWait for room; it
// reports whether pic was queued (decode goroutine).
func (v *Video) waitLayer(l *layer, pic picture) bool {
	if v.burstTimer == nil {
		v.burstTimer = time.NewTimer(burstWait)
	} else {
		v.burstTimer.Reset(burstWait)
	}
	select {
	case l.in <- pic:
		v.burstTimer.Stop()
		return true
	case <-v.burstTimer.C:
		return false
	}
}

// SetLayerActive pauses (false) or resumes (true) the scaling and encoding
// of layer i, e.g. when no subscriber of the room receives it (LiveKit's
// dynacast). A paused layer costs nothing and outputs nothing; a resumed
// one starts again from the next decoded picture, which it encodes as a
// keyframe so receivers can start at once. When every layer is paused the
// source is not even decoded, until a layer is resumed and the source
// sends a keyframe. Layers start active. Safe for concurrent use.
func (v *Video) SetLayerActive(i int, active bool) {
	if i >= 0 && i < len(v.layers) {
		v.layers[i].paused.Store(!active)
	}
}

// layerRunning applies a pause or resume of l asked for since the last
// picture, and reports whether l gets this one (decode goroutine). A layer
// runs when it is not paused and the source needs it.
func (v *Video) layerRunning(l *layer) bool {
	run := !l.paused.Load() && l.fits
	if run != l.running {
		l.running = run
		if run {
			l.forceKey.Store(true)
		}
	}
	return run
}

// plan sizes the layers for pictures of w×h (decode goroutine): each
// layer's size within its box, and which layers the source needs.
func (v *Video) plan(w, h int) {
	first := v.srcW == 0
	v.srcW, v.srcH = w, h
	covered := false
	sizes := make([]string, 0, len(v.layers))
	for _, l := range v.layers { // low to high
		fw, fh, covers := simulcast.FitLayer(uint32(l.conf.Width), uint32(l.conf.Height), uint32(w), uint32(h))
		l.fits = !covered
		covered = covered || covers
		if int(fw) != l.w || int(fh) != l.h {
			l.w, l.h = int(fw), int(fh)
			if l.scaler != nil {
				l.scaler.Close()
				l.scaler = nil
			}
		}
		if l.fits {
			sizes = append(sizes, fmt.Sprintf("%dx%d", l.w, l.h))
		} else {
			sizes = append(sizes, "idle")
		}
	}
	msg := "source resolution changed: layers planned again"
	if first {
		msg = "video layers planned"
	}
	v.log.Infow(msg, "source", fmt.Sprintf("%dx%d", w, h), "layers", strings.Join(sizes, " "))
}

// takePicture returns a free picture of l's size: a returned one, a new one
// while the pool is not full, or (blocking mode) the next one l gives back.
// It returns nil when l is behind and frames may be dropped.
func (v *Video) takePicture(l *layer) *ffi.VideoFrame {
	select {
	case f := <-l.free:
		return v.resized(l, f)
	default:
	}
	if l.allocated < picturePool {
		f, err := ffi.NewVideoFrame(l.w, l.h)
		if err != nil {
			v.fail(fmt.Errorf("layer %dx%d: %w", l.w, l.h, err))
			return nil
		}
		l.allocated++
		return f
	}
	if v.conf.Blocking {
		return v.resized(l, <-l.free)
	}
	return nil
}

// resized returns f if it has l's current size, else a new picture of
// that size in its place (the layer was planned again since f was made).
func (v *Video) resized(l *layer, f *ffi.VideoFrame) *ffi.VideoFrame {
	if f.Width() == l.w && f.Height() == l.h {
		return f
	}
	f.Release()
	n, err := ffi.NewVideoFrame(l.w, l.h)
	if err != nil {
		l.allocated--
		v.fail(fmt.Errorf("layer %dx%d: %w", l.w, l.h, err))
		return nil
	}
	return n
}

// scale writes src, resized to l's size, into dst.
func (v *Video) scale(l *layer, src, dst *ffi.VideoFrame) error {
	if l.scaler == nil {
		s, err := ffi.NewScaler(src.Width(), src.Height(), l.w, l.h, scaleFlags)
		if err != nil {
			return err
		}
		l.scaler = s
	}
	return l.scaler.Scale(src, dst)
}

func (v *Video) layerLoop(l *layer) {
	defer v.wg.Done()
	defer func() {
		if l.enc != nil {
			l.enc.Close()
		}
		// The decode goroutine has closed l.in, so every picture of the
		// pool is back — unless a panic lost one on its way (a picture
		// taken and not yet recorded): then what is back is released and
		// nothing is waited for.
		for range l.allocated {
			if v.panicked.Load() {
				select {
				case f := <-l.free:
					f.Release()
				default:
				}
				continue
			}
			(<-l.free).Release()
		}
	}()
	for pic := range l.in {
		if v.panicked.Load() {
			pic.done(l)
			continue
		}
		if err := guard.Call(v.log, "video transcoder", func() error { return v.encode(l, pic) }); errors.Is(err, guard.ErrPanic) {
			v.panicked.Store(true)
			v.fail(err)
		}
	}
	if l.enc == nil || v.panicked.Load() {
		return
	}
	if pkts, err := l.enc.Flush(); err == nil {
		v.emit(l, pkts, time.Time{})
	}
}

// encode encodes one picture on layer l and hands the packets on; the
// picture goes back to its pool whatever happens.
func (v *Video) encode(l *layer, pic picture) error {
	if pic.src != nil {
		v.emitSource(l, pic.src)
		return nil
	}
	returned := false
	defer func() {
		if !returned {
			pic.done(l)
		}
	}()
	if pic.f.Width() != l.encW || pic.f.Height() != l.encH || l.enc == nil {
		if err := v.reopen(l, pic.f.Width(), pic.f.Height()); err != nil {
			v.fail(err)
			return err
		}
	}
	if v.testHookEncode != nil {
		v.testHookEncode()
	}
	if l.forceKey.Swap(false) {
		l.enc.ForceKeyframe()
	}
	pkts, err := l.enc.Encode(pic.f)
	pic.done(l)
	returned = true
	if err != nil {
		v.fail(err)
		return err
	}
	// Zero-latency encoders emit a picture's packet at once: it carries
	// that picture's arrival time.
	v.emit(l, pkts, pic.wall)
	return nil
}

// reopen replaces l's encoder by one for pictures of w×h (layer
// goroutine): what the old one still holds is sent first, and the new one
// starts with a keyframe carrying the new size.
func (v *Video) reopen(l *layer, w, h int) error {
	if l.enc != nil { // nil after a failed reopen
		if pkts, err := l.enc.Flush(); err == nil {
			v.emit(l, pkts, time.Time{})
		}
		l.enc.Close()
	}
	ec := l.encConf
	ec.Width, ec.Height = w, h
	enc, err := ffi.NewVideoEncoder(ec)
	if err != nil {
		l.enc, l.encW, l.encH = nil, 0, 0
		return fmt.Errorf("layer %d at %dx%d: %w", l.idx, w, h, err)
	}
	l.enc, l.encW, l.encH = enc, w, h
	t := *l.track
	t.Width, t.Height = w, h
	l.track = &t
	l.forceKey.Store(false) // a new encoder starts with one
	return nil
}

func (v *Video) emit(l *layer, pkts []ffi.Packet, wall time.Time) {
	for _, p := range pkts {
		var data [][]byte
		if v.conf.Codec == media.CodecH264 {
			nalus, err := h264.SplitAnnexB(p.Data)
			if err != nil || len(nalus) == 0 {
				continue
			}
			data = nalus
		} else {
			data = [][]byte{p.Data}
		}
		v.conf.Output(l.idx, &media.Frame{Track: l.track, PTS: p.PTS, DTS: p.DTS, Key: p.Key, Wall: wall, Data: data})
	}
}
