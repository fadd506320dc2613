package transcode

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/media"
)

// Queue depths. Deeper queues only add latency: when a stage falls behind,
// frames are dropped (and counted) at its input instead.
//
// Live inputs often deliver in bursts: an MPEG-TS muxer (ffmpeg's over SRT,
// hardware encoders) sends a few hundred milliseconds of frames at once,
// then nothing. The compressed frames wait in the decode queue, which is
// deep and cheap; decoded pictures, which are large, wait for a busy
// encoder only while the decode queue is less than half full (a burst
// being worked off, see burstWait), and are dropped at a full layer queue
// once it is fuller (the session is behind: dropping is the only way to
// keep latency bounded).
const (
	decodeQueue = 90 // compressed frames waiting for the decoder (~3 s at 30 fps)
	layerQueue  = 2  // decoded pictures waiting for a layer's encoder
	// burstWait bounds how long the decoder waits for one layer's queue.
	burstWait = 100 * time.Millisecond
)

// DefaultMaxAge is VideoConfig.MaxAge by default: twice the session's
// transcode budget. A picture decoded that long after it arrived would
// leave at least a quarter second late.
const DefaultMaxAge = 500 * time.Millisecond

// LayerTarget is one output layer: its nominal box. The pictures it gets are
// the source scaled to fit the box with the source's aspect ratio, never
// upscaled (simulcast.FitLayer); a layer above the first one that covers
// the source is idle (it would duplicate that one) until the source grows.
// Sizes are planned again whenever the decoded pictures change size, so a
// source that changes resolution mid-stream (a browser ramping up, an
// encoder changing its canvas, an HLS variant switch) keeps the layers its
// new size allows; a layer whose size changes restarts its encoder, which
// begins with a keyframe.
type LayerTarget struct {
	Width, Height int
	Bitrate       int
}

// VideoConfig configures a Video transcoder.
type VideoConfig struct {
	// Source is the input track (its Config is the decoder's extradata).
	Source *media.Track
	// Codec of the output: media.CodecH264 or media.CodecVP8.
	Codec media.CodecID
	// MaxFrameRate caps the output frame rate: a faster source loses
	// pictures evenly spread (30 fps capped at 25 keeps five in six; see
	// frameRateCap); 0 keeps every picture.
	MaxFrameRate float64
	// Layers, low to high (see LayerTarget).
	Layers []LayerTarget
	// Output receives encoded frames of layer i, in order, from that
	// layer's goroutine. It may block (pacing); the layer then falls behind
	// and drops pictures rather than queueing them.
	Output func(layer int, f *media.Frame)
	// Preset is the x264 preset ("" = veryfast).
	Preset string
	// Blocking makes Write wait for the decoder, and the decoder for the
	// encoders, instead of dropping: for file inputs, which are read no
	// faster than they can be processed. Live inputs drop to bound latency.
	Blocking bool
	// MaxAge, for live inputs, skips the encoding of a picture that
	// arrived (Frame.Wall) longer ago than this when it leaves the
	// decoder: it could only be sent late, in a burst with the pictures
	// after it (the frames held while a session starts, a decoder that
	// fell behind), and LiveKit answers a burst by moving viewers to a
	// lower layer for seconds. It is still decoded: later pictures need
	// it. 0 means DefaultMaxAge; a negative MaxAge encodes every picture.
	MaxAge time.Duration
	// OnDrop, when set, is called for every frame or picture dropped for
	// want of room (see Dropped), from the goroutine that dropped it.
	OnDrop func()
	// OnStale, when set, is called for every picture skipped as too old
	// to encode (MaxAge), from the decode goroutine: the transcoder is
	// behind its source.
	OnStale func()
	// ReuseTop sends the source's own frames as the top layer, instead of
	// encoding it, while the source is what that layer would be (see
	// reuse.go for when, and what it means for keyframes and bitrate).
	ReuseTop bool
	Logger   logger.Logger
}

// Video is a running video transcoder.
type Video struct {
	conf   VideoConfig
	log    logger.Logger
	in     chan *media.Frame
	layers []*layer
	wg     sync.WaitGroup

	closeOnce sync.Once
	failMu    sync.Mutex
	failErr   error
	// panicked is set once a transcoder goroutine recovered from a
	// panic: the others then only drain their queues.
	panicked atomic.Bool
	// testHookDecode, testHookScale and testHookEncode, for tests, run
	// before each decode, scale and encode.
	testHookDecode, testHookScale, testHookEncode func()

	order []int     // layer indices, largest picture first
	pics  []picture // per layer, the picture being handed out (decode side)

	waitKey   bool // decode side: a frame was dropped, skip to a keyframe
	rateCap   frameRateCap
	srcW      int // decode side: the picture size the layers are planned for
	srcH      int
	droppedIn atomic.Int64
	decoded   int64 // decode side: pictures out of the decoder
	capped    int64 // decode side: pictures skipped by the frame-rate cap
	stale     int64 // decode side: pictures too old to encode (MaxAge)
	// resting is set while no layer is wanted (decode side): frames are
	// not decoded, and decoding resumes at the first keyframe after a
	// layer is wanted again. idle counts the frames left undecoded.
	resting bool
	idle    atomic.Int64
	// burstTimer bounds the decode goroutine's wait for a layer (see
	// waitLayer).
	burstTimer *time.Timer
	// reuse decides whether the top layer is the source's frames (nil
	// without ReuseTop or when it cannot apply); lastFwd is the PTS of the
	// last frame forwarded, fwdSeen whether there was one, and forwarded
	// counts them (decode side).
	reuse     *reuseGate
	lastFwd   int64
	fwdSeen   bool
	forwarded int64
}

// picturePool is the number of pictures per layer: the queue, the one
// being encoded and the one being scaled.
const picturePool = layerQueue + 2

// NewVideo opens the decoder and one encoder per layer and starts their
// goroutines.
func NewVideo(conf VideoConfig) (*Video, error) {
	if conf.Logger == nil {
		conf.Logger = logger.GetLogger()
	}
	if len(conf.Layers) == 0 {
		return nil, errors.New("video transcoder: no layers")
	}
	src, err := ffiCodec(conf.Source.Codec)
	if err != nil {
		return nil, fmt.Errorf("video transcoder: %w", err)
	}
	if w, h := conf.Source.Width, conf.Source.Height; w*h > ffi.MaxPixels {
		return nil, fmt.Errorf("video transcoder: the source is %dx%d, larger than the largest picture Tributary decodes (%d pixels, e.g. 4096x2304)", w, h, ffi.MaxPixels)
	}
	outCodec := ffi.CodecH264
	switch conf.Codec {
	case media.CodecH264:
	case media.CodecVP8:
		outCodec = ffi.CodecVP8
	default:
		return nil, fmt.Errorf("video transcoder: cannot encode %s (H.264 or VP8)", conf.Codec)
	}
	v := &Video{conf: conf, log: conf.Logger, in: make(chan *media.Frame, decodeQueue)}
	v.rateCap = newFrameRateCap(conf.MaxFrameRate, conf.Source.ClockRate)
	if v.conf.MaxAge == 0 {
		v.conf.MaxAge = DefaultMaxAge
	}
	fps := 30
	if conf.MaxFrameRate > 0 {
		fps = int(conf.MaxFrameRate + 0.5)
	}
	dec, err := ffi.NewVideoDecoder(src, decoderExtradata(conf.Source), ffi.WithThreads(1))
	if err != nil {
		return nil, err
	}
	for i, l := range conf.Layers {
		// Opened at the box size, which checks the settings now; the first
		// picture of another size reopens it.
		ec := ffi.VideoEncoderConfig{
			Codec: outCodec, Width: l.Width, Height: l.Height, FPS: fps, Bitrate: l.Bitrate,
			Preset: conf.Preset, Threads: encoderThreads,
		}
		enc, err := ffi.NewVideoEncoder(ec)
		if err != nil {
			dec.Close()
			v.closeLayers()
			return nil, err
		}
		v.layers = append(v.layers, &layer{
			idx: i, conf: l, enc: enc, encW: l.Width, encH: l.Height, encConf: ec,
			in: make(chan picture, layerQueue), running: true, w: l.Width, h: l.Height, fits: true,
			free:  make(chan *ffi.VideoFrame, picturePool),
			track: &media.Track{ID: i, Kind: media.KindVideo, Codec: conf.Codec, ClockRate: 90000, Width: l.Width, Height: l.Height},
		})
	}
	// Scaling order: largest first, so each layer is scaled from the next
	// larger layer's picture rather than from the full source.
	v.order = make([]int, len(v.layers))
	for i := range v.order {
		v.order[i] = i
	}
	sort.SliceStable(v.order, func(a, b int) bool {
		la, lb := v.layers[v.order[a]].conf, v.layers[v.order[b]].conf
		return la.Width*la.Height > lb.Width*lb.Height
	})
	v.pics = make([]picture, len(v.layers))
	if conf.ReuseTop {
		v.reuse = newReuseGate(conf.Source, conf.Codec, conf.Layers[len(conf.Layers)-1], conf.MaxFrameRate)
	}
	v.wg.Add(1 + len(v.layers))
	go v.decodeLoop(dec)
	for _, l := range v.layers {
		go v.layerLoop(l)
	}
	return v, nil
}

// scaleFlags is the libswscale algorithm of the layers. Each layer is
// scaled from the next larger one (see distribute), so every step is a
// downscale by 1.5–2, where area averaging is both the cheapest of
// libswscale's filters and free of the aliasing of fast bilinear
// (benchmarks/RESULTS.md: 1080p→720p 1.1 ms vs 1.8 ms for bilinear).
const scaleFlags = ffi.ScaleArea

// encoderThreads is the x264 thread count of a layer: one. The layers
// already run in parallel on their own goroutines, and sliced threads only
// add synchronisation (benchmarks/RESULTS.md); a 720p veryfast picture
// takes ~7 ms on one core, well inside a frame interval, so one thread
// adds no latency either.
const encoderThreads = 1

// decoderExtradata is the extradata given to libavcodec. H.264 and H.265
// frames are fed Annex-B with their parameter sets in band (the session
// puts them before keyframes); an avcC/hvcC record here would switch the
// decoder to length-prefixed input. AV1's av1C is safe to pass, and so is
// MPEG-2's sequence header (libavcodec reads it once, so an I-picture that
// does not repeat it still decodes).
func decoderExtradata(t *media.Track) []byte {
	if t.Codec == media.CodecAV1 || t.Codec == media.CodecMPEG2Video {
		return t.Config
	}
	return nil
}
func (v *Video) closeLayers() {
	for _, l := range v.layers {
		l.enc.Close()
	}
}

// Write queues one source frame for decoding. When the decoder is behind,
// the frame is dropped and decoding resumes at the next keyframe.
func (v *Video) Write(f *media.Frame) error {
	if err := v.err(); err != nil {
		return err
	}
	if v.waitKey {
		if !f.Key {
			v.dropIn()
			return nil
		}
		v.waitKey = false
	}
	if v.conf.Blocking {
		v.in <- f
		return nil
	}
	select {
	case v.in <- f:
	default:
		v.dropIn()
		v.waitKey = true
	}
	return nil
}

// RequestKeyframe asks layer i for a keyframe (a subscriber sent PLI/FIR).
func (v *Video) RequestKeyframe(i int) {
	if i >= 0 && i < len(v.layers) {
		v.layers[i].forceKey.Store(true)
	}
}

// Close flushes what is queued, stops the goroutines and frees the codecs.
func (v *Video) Close() error {
	v.closeOnce.Do(func() { close(v.in) })
	v.wg.Wait()
	return v.err()
}
func (v *Video) fail(err error) {
	v.failMu.Lock()
	if v.failErr == nil {
		v.failErr = err
	}
	v.failMu.Unlock()
}
func (v *Video) err() error {
	v.failMu.Lock()
	defer v.failMu.Unlock()
	return v.failErr
}

// dropIn counts a source frame dropped before decoding: the decode queue
// was full, or it follows such a drop and precedes the next keyframe.
func (v *Video) dropIn() {
	v.droppedIn.Add(1)
	if v.conf.OnDrop != nil {
		v.conf.OnDrop()
	}
}

// dropLayer counts a picture a layer had no room for.
func (v *Video) dropLayer(l *layer) {
	l.dropped.Add(1)
	if v.conf.OnDrop != nil {
		v.conf.OnDrop()
	}
}

// Dropped returns the source frames dropped before decoding and the
// pictures dropped per layer before encoding.
func (v *Video) Dropped() (int64, []int64) {
	per := make([]int64, len(v.layers))
	for i, l := range v.layers {
		per[i] = l.dropped.Load()
	}
	return v.droppedIn.Load(), per
}
func (v *Video) decodeLoop(dec *ffi.VideoDecoder) {
	defer v.wg.Done()
	defer func() {
		// After a recovered panic, the pool pictures distribute had
		// taken and not queued go back to their pools (their layers
		// wait for every picture of the pool when they end).
		for i, pic := range v.pics {
			if pic.pooled {
				v.layers[i].free <- pic.f
			}
			v.pics[i] = picture{}
		}
		for _, l := range v.layers {
			close(l.in)
			if l.scaler != nil {
				l.scaler.Close()
			}
		}
		dec.Close()
	}()
	var buf []byte
	// decodeErrors counts the frames the decoder refused, for the log;
	// failedRun those since the last one it took. A frame damaged by a
	// lost packet is refused and the next keyframe repairs the picture,
	// however often that happens over a long session: only a decoder that
	// takes nothing for maxDecodeErrorRun frames in a row (10 s at 30 fps)
	// fails the session.
	decodeErrors, failedRun := 0, 0
	walls := map[int64]time.Time{} // source PTS → arrival, until decoded
	decode := func(f *media.Frame) error {
		if len(walls) > maxPendingWalls {
			clear(walls) // a decoder that swallowed frames; start over
		}
		if !f.Wall.IsZero() {
			walls[f.PTS] = f.Wall
		}
		if v.testHookDecode != nil {
			v.testHookDecode()
		}
		buf = h264.AppendAnnexB(buf[:0], f.Data)
		if f.Track.Codec != media.CodecH264 && f.Track.Codec != media.CodecH265 {
			buf = append(buf[:0], f.Data[0]...)
		}
		pics, err := dec.Decode(buf, f.PTS)
		if err != nil {
			decodeErrors++
			failedRun++
			if logCount(decodeErrors) {
				v.log.Infow("video decode error (frame skipped)", "error", err.Error(), "count", decodeErrors, "inARow", failedRun)
			}
			if failedRun >= maxDecodeErrorRun {
				v.fail(fmt.Errorf("the video cannot be decoded (%d frames in a row refused): %w", failedRun, err))
			}
			return nil
		}
		failedRun = 0
		v.fanOut(lastPerPTS(pics), walls)
		return nil
	}
	for f := range v.in {
		// A panic (a bug met by a malformed stream) fails this
		// transcoder, and so its session, with the stack in the log; the
		// frames still queued are drained unread.
		if v.panicked.Load() {
			continue
		}
		if v.reuse != nil {
			v.reuseTop(f)
		}
		if v.rest(f) {
			continue
		}
		if err := guard.Call(v.log, "video transcoder", func() error { return decode(f) }); err != nil {
			v.panicked.Store(true)
			v.fail(err)
		}
	}
	if v.panicked.Load() {
		return
	}
	if pics, err := dec.Flush(); err == nil {
		v.fanOut(lastPerPTS(pics), walls)
	}
	in, per := v.Dropped()
	v.log.Debugw("video transcoder done", "decoded", v.decoded, "topLayerForwarded", v.forwarded, "frameRateCap", v.capped, "stale", v.stale,
		"droppedBeforeDecoding", in, "droppedPerLayer", per, "notDecodedUnwatched", v.idle.Load())
}

// rest reports whether f is left undecoded because no layer is wanted
// (decode goroutine): when every layer the source needs is paused (no
// viewer receives any video), decoding is the only work left and nothing
// uses it, so it stops — the audio goes on. When a layer is wanted again,
// decoding resumes at the source's next keyframe (a decoder cannot start
// elsewhere), so a new viewer's first picture comes within the source's
// keyframe interval. Before the first picture the layers are not planned
// yet: every frame is decoded.
func (v *Video) rest(f *media.Frame) bool {
	wanted := v.srcW == 0
	for _, l := range v.layers {
		// A forwarded layer someone watches keeps the decoder going too:
		// a viewer moving down to a paused layer then gets it at once
		// (an encoded keyframe of the next picture), not at the source's
		// next keyframe (TestGlassLatency's switching viewer froze 2 s
		// on HIGH → LOW when it did not).
		wanted = wanted || (l.fits && !l.paused.Load())
	}
	switch {
	case !wanted:
		if !v.resting {
			v.log.Debugw("no viewer receives any video layer: decoding stops until one does")
			for _, l := range v.layers {
				l.running = false // a layer wanted again starts with a keyframe
			}
		}
		v.resting = true
	case v.resting && f.Key:
		v.log.Debugw("a video layer is wanted again: decoding resumes at this keyframe")
		v.resting = false
	}
	if v.resting {
		v.idle.Add(1)
	}
	return v.resting
}

// lastPerPTS keeps, of the pictures one frame decoded to with the same
// time, the last one: a VP9 superframe of spatial layers (a scalable
// sender's picture, see rtpdepack) decodes to a picture per layer, the
// last the full one. The others are released.
func lastPerPTS(pics []*ffi.VideoFrame) []*ffi.VideoFrame {
	out := pics[:0]
	for i, p := range pics {
		if i+1 < len(pics) && pics[i+1].PTS == p.PTS {
			p.Release()
			continue
		}
		out = append(out, p)
	}
	return out
}

// logCount reports whether the nth occurrence of something logged by
// count is logged: the 1st, 10th, 100th, then every 1000th (a damaged
// stream over hours logs a line every half minute at most).
func logCount(n int) bool {
	return n == 1 || n == 10 || n == 100 || n%1000 == 0
}

// maxDecodeErrorRun is how many frames in a row the decoder may refuse
// before the video counts as undecodable.
const maxDecodeErrorRun = 300

// maxPendingWalls bounds the arrival times kept for frames in the decoder
// (a few frames of reordering delay in practice).
const maxPendingWalls = 256

// fanOut hands each picture to every layer, thinning to the frame-rate cap.
func (v *Video) fanOut(pics []*ffi.VideoFrame, walls map[int64]time.Time) {
	for _, p := range pics {
		wall := walls[p.PTS]
		delete(walls, p.PTS)
		v.decoded++
		if v.conf.MaxAge > 0 && !v.conf.Blocking && !wall.IsZero() && time.Since(wall) > v.conf.MaxAge {
			v.stale++
			if v.conf.OnStale != nil {
				v.conf.OnStale()
			}
			p.Release()
			continue
		}
		if !v.rateCap.keep(p.PTS) {
			v.capped++
			p.Release()
			continue
		}
		v.distribute(p, wall)
	}
}
