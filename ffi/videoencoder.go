//go:build cgo

package ffi

/*
#include <stdlib.h>
#include "ffi.h"

// ffi_set_key marks the next frame as a forced keyframe, or clears a previous
// mark.
static inline void ffi_set_key(AVFrame *f, int key) {
	f->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	f->key_frame = key;
}

static inline int ffi_opt_set(void *obj, const char *key, const char *val) {
	return av_opt_set(obj, key, val, 0);
}
*/
import "C"

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// videoTimeBase is the encoder time base: 90 kHz, the RTP/MPEG clock, so
// frame PTS pass through unchanged.
const videoTimeBase = 90000

// VideoEncoder encodes YUV420P frames to H.264 (libx264) or VP8 (libvpx),
// tuned for real-time WebRTC delivery. It is not safe for concurrent use,
// except ForceKeyframe.
type VideoEncoder struct {
	name     string // "h264 encoder"
	cfg      VideoEncoderConfig
	ctx      *C.AVCodecContext
	in       *C.AVFrame // reference to the caller's frame while sending
	pkt      *C.AVPacket
	forceKey atomic.Bool
}

// x264Presets are the presets libx264 accepts (x264_preset_names).
var x264Presets = map[string]bool{
	"ultrafast": true, "superfast": true, "veryfast": true, "faster": true, "fast": true,
	"medium": true, "slow": true, "slower": true, "veryslow": true, "placebo": true,
}

// encoderNames are the libavcodec encoders used per codec.
var encoderNames = map[Codec]string{
	CodecH264: "libx264",
	CodecVP8:  "libvpx",
}

// NewVideoEncoder opens an encoder.
//
// H.264: constrained baseline (profile_idc 66, constraint_set1),
// tune zerolatency, preset cfg.Preset (veryfast), no B-frames, no scene-cut
// keyframes, SPS/PPS repeated before each IDR, Annex-B output.
// VP8: deadline realtime, cpu-used cfg.CPUUsed (8), no lag, CBR.
// Both: bitrate cfg.Bitrate with max rate = bitrate and a 1 s VBV buffer,
// a keyframe every cfg.KeyframeInterval frames (2 s) and on ForceKeyframe,
// time base 1/90000.
func NewVideoEncoder(cfg VideoEncoderConfig) (_ *VideoEncoder, err error) {
	encName, ok := encoderNames[cfg.Codec]
	if !ok {
		return nil, unsupported(cfg.Codec, "no encoder; want h264 or vp8")
	}
	e := &VideoEncoder{name: cfg.Codec.String() + " encoder", cfg: cfg}
	switch {
	case cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width%2 != 0 || cfg.Height%2 != 0:
		return nil, fmt.Errorf("%s: invalid size %dx%d (must be positive and even)", e.name, cfg.Width, cfg.Height)
	case cfg.FPS <= 0:
		return nil, fmt.Errorf("%s: invalid frame rate %d", e.name, cfg.FPS)
	case cfg.Bitrate <= 0:
		return nil, fmt.Errorf("%s: invalid bitrate %d", e.name, cfg.Bitrate)
	}
	if e.cfg.KeyframeInterval <= 0 {
		e.cfg.KeyframeInterval = 2 * cfg.FPS
	}
	if e.cfg.Preset == "" {
		e.cfg.Preset = "veryfast"
	}
	if cfg.Codec == CodecH264 && !x264Presets[e.cfg.Preset] {
		return nil, fmt.Errorf("%s: unknown x264 preset %q", e.name, e.cfg.Preset)
	}
	if e.cfg.CPUUsed == 0 {
		e.cfg.CPUUsed = 8
	}

	cname := C.CString(encName)
	enc := C.avcodec_find_encoder_by_name(cname)
	C.free(unsafe.Pointer(cname))
	if enc == nil {
		return nil, unsupported(cfg.Codec, encName+" not in this libavcodec")
	}

	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.ctx = C.avcodec_alloc_context3(enc); e.ctx == nil {
		return nil, fmt.Errorf("%s: allocate context: out of memory", e.name)
	}
	if e.in = C.av_frame_alloc(); e.in == nil {
		return nil, fmt.Errorf("%s: allocate frame: out of memory", e.name)
	}
	if e.pkt = C.av_packet_alloc(); e.pkt == nil {
		return nil, fmt.Errorf("%s: allocate packet: out of memory", e.name)
	}

	c := e.ctx
	c.width = C.int(cfg.Width)
	c.height = C.int(cfg.Height)
	c.pix_fmt = C.AV_PIX_FMT_YUV420P
	c.time_base = C.AVRational{num: 1, den: videoTimeBase}
	c.framerate = C.AVRational{num: C.int(cfg.FPS), den: 1}
	c.gop_size = C.int(e.cfg.KeyframeInterval)
	c.keyint_min = C.int(e.cfg.KeyframeInterval)
	c.max_b_frames = 0
	c.bit_rate = C.int64_t(cfg.Bitrate)
	c.rc_max_rate = C.int64_t(cfg.Bitrate)
	c.rc_buffer_size = C.int(cfg.Bitrate) // bits: 1 s at the target rate
	c.thread_count = C.int(cfg.Threads)

	var opts [][2]string
	switch cfg.Codec {
	case CodecH264:
		opts = [][2]string{
			{"preset", e.cfg.Preset},
			{"tune", "zerolatency"},
			// constraint_set1 comes with x264's baseline profile: no
			// B-frames, CAVLC, no 8x8 transform, no weighted prediction.
			{"profile", "baseline"},
			{"forced-idr", "1"},
			// No extra keyframes on scene cuts: the interval is exact and
			// keyframe bursts stay where the caller expects them.
			{"x264-params", "scenecut=0"},
		}
	case CodecVP8:
		c.rc_min_rate = C.int64_t(cfg.Bitrate) // min == max == bitrate selects VPX_CBR
		opts = [][2]string{
			{"deadline", "realtime"},
			{"cpu-used", strconv.Itoa(e.cfg.CPUUsed)},
			{"lag-in-frames", "0"},
			{"auto-alt-ref", "0"},
		}
	}
	for _, o := range opts {
		if err := e.setOpt(o[0], o[1]); err != nil {
			return nil, err
		}
	}
	if ret := C.avcodec_open2(c, enc, nil); ret < 0 {
		return nil, avErr(e.name, "open", ret)
	}
	return e, nil
}

func (e *VideoEncoder) setOpt(key, val string) error {
	ck, cv := C.CString(key), C.CString(val)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	if ret := C.ffi_opt_set(e.ctx.priv_data, ck, cv); ret < 0 {
		return avErr(e.name, fmt.Sprintf("set option %s=%s", key, val), ret)
	}
	return nil
}

// ForceKeyframe makes the next encoded frame a keyframe (an IDR for H.264).
// It may be called from any goroutine, e.g. on a PLI from a subscriber.
func (e *VideoEncoder) ForceKeyframe() {
	e.forceKey.Store(true)
}

// Encode encodes f at f.PTS (90 kHz) and returns the packets that became
// available (with zerolatency settings, normally exactly one). f must be
// Width×Height YUV420P; it is only referenced during the call, so the caller
// keeps ownership and may reuse it (e.g. as the next scaler destination).
func (e *VideoEncoder) Encode(f *VideoFrame) ([]Packet, error) {
	if e.ctx == nil {
		return nil, fmt.Errorf("%s: %w", e.name, errClosed)
	}
	if f.f == nil {
		return nil, fmt.Errorf("%s: %w", e.name, errReleased)
	}
	if int(f.f.width) != e.cfg.Width || int(f.f.height) != e.cfg.Height || f.f.format != C.AV_PIX_FMT_YUV420P {
		return nil, fmt.Errorf("%s: frame is %dx%d %s, want %dx%d yuv420p",
			e.name, f.f.width, f.f.height, f.Format(), e.cfg.Width, e.cfg.Height)
	}
	if ret := C.av_frame_ref(e.in, f.f); ret < 0 {
		return nil, avErr(e.name, "reference frame", ret)
	}
	e.in.pts = C.int64_t(f.PTS)
	key := e.forceKey.Swap(false)
	C.ffi_set_key(e.in, boolToInt(key))
	ret := C.avcodec_send_frame(e.ctx, e.in)
	C.av_frame_unref(e.in)
	if ret < 0 {
		if key {
			e.forceKey.Store(true)
		}
		return nil, avErr(e.name, "send frame", ret)
	}
	return e.receive(nil)
}

// Flush drains the encoder at end of stream. The encoder cannot be used
// afterwards except to Close it.
func (e *VideoEncoder) Flush() ([]Packet, error) {
	if e.ctx == nil {
		return nil, fmt.Errorf("%s: %w", e.name, errClosed)
	}
	if ret := C.avcodec_send_frame(e.ctx, nil); ret < 0 && ret != avEOF {
		return nil, avErr(e.name, "flush", ret)
	}
	return e.receive(nil)
}

func (e *VideoEncoder) receive(out []Packet) ([]Packet, error) {
	for {
		ret := C.avcodec_receive_packet(e.ctx, e.pkt)
		if ret == avEAGAIN || ret == avEOF {
			return out, nil
		}
		if ret < 0 {
			return out, avErr(e.name, "receive packet", ret)
		}
		out = append(out, copyPacket(e.pkt))
		C.av_packet_unref(e.pkt)
	}
}

// copyPacket copies an AVPacket into Go memory.
func copyPacket(p *C.AVPacket) Packet {
	return Packet{
		Data: C.GoBytes(unsafe.Pointer(p.data), p.size),
		PTS:  int64(p.pts),
		DTS:  int64(p.dts),
		Key:  p.flags&C.AV_PKT_FLAG_KEY != 0,
	}
}

func boolToInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Close frees the encoder without draining it. It is idempotent.
func (e *VideoEncoder) Close() {
	if e.in != nil {
		C.ffi_frame_free(e.in)
		e.in = nil
	}
	if e.pkt != nil {
		C.ffi_packet_free(e.pkt)
		e.pkt = nil
	}
	if e.ctx != nil {
		C.ffi_context_free(e.ctx)
		e.ctx = nil
	}
}
