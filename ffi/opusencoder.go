//go:build cgo

package ffi

/*
#cgo pkg-config: opus
#include <opus.h>

// opus_encoder_ctl is variadic, which cgo cannot call.
static inline int ffi_opus_set_bitrate(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(v)); }
static inline int ffi_opus_set_dtx(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_DTX(v)); }
static inline int ffi_opus_set_fec(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(v)); }
static inline int ffi_opus_set_loss(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(v)); }
static inline int ffi_opus_lookahead(OpusEncoder *e, int *v) { return opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(v)); }
static inline int ffi_opus_bitrate_auto(void) { return OPUS_AUTO; }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// opusMaxPacket is the output buffer size: libopus' recommended maximum
// packet size (RFC 6716 allows up to 1275 bytes per frame; 4000 is the
// opus_demo value).
const opusMaxPacket = 4000

// OpusEncoder encodes 48 kHz interleaved PCM to 20 ms Opus packets. It uses
// libopus directly rather than through libavcodec, because FFmpeg 5.1's
// libopus wrapper cannot enable DTX. It is not safe for concurrent use.
type OpusEncoder struct {
	enc      *C.OpusEncoder
	cfg      OpusEncoderConfig
	frameLen int    // bytes per 20 ms frame
	pending  []byte // partial frame carried to the next call
	nextPTS  int64  // pts of pending[0]
	out      [opusMaxPacket]byte
}

// NewOpusEncoder creates an encoder (application "audio").
func NewOpusEncoder(cfg OpusEncoderConfig) (*OpusEncoder, error) {
	if cfg.Format == SampleFormatUnknown {
		cfg.Format = SampleFormatS16
	}
	if cfg.Format != SampleFormatS16 && cfg.Format != SampleFormatFLT {
		return nil, fmt.Errorf("opus encoder: input format %s not supported (want s16 or flt)", cfg.Format)
	}
	if cfg.Channels != 1 && cfg.Channels != 2 {
		return nil, fmt.Errorf("opus encoder: %d channels not supported (want 1 or 2)", cfg.Channels)
	}
	var ret C.int
	enc := C.opus_encoder_create(OpusSampleRate, C.int(cfg.Channels), C.OPUS_APPLICATION_AUDIO, &ret)
	if ret != C.OPUS_OK || enc == nil {
		return nil, opusErr("create", ret)
	}
	e := &OpusEncoder{
		enc:      enc,
		cfg:      cfg,
		frameLen: OpusFrameSize * cfg.Channels * cfg.Format.BytesPerSample(),
	}
	bitrate := C.ffi_opus_bitrate_auto()
	if cfg.Bitrate > 0 {
		bitrate = C.int(cfg.Bitrate)
	}
	steps := []struct {
		op  string
		ret C.int
	}{
		{"set bitrate", C.ffi_opus_set_bitrate(enc, bitrate)},
		{"set dtx", C.ffi_opus_set_dtx(enc, boolToInt(cfg.DTX))},
		{"set fec", C.ffi_opus_set_fec(enc, boolToInt(cfg.FEC))},
	}
	if cfg.FEC {
		steps = append(steps, struct {
			op  string
			ret C.int
		}{"set packet loss", C.ffi_opus_set_loss(enc, 10)})
	}
	for _, s := range steps {
		if s.ret != C.OPUS_OK {
			e.Close()
			return nil, opusErr(s.op, s.ret)
		}
	}
	e.pending = make([]byte, 0, e.frameLen)
	return e, nil
}

func opusErr(op string, ret C.int) error {
	return fmt.Errorf("opus encoder: %s: %s", op, C.GoString(C.opus_strerror(ret)))
}

// Lookahead returns the encoder's algorithmic delay in samples (312 at
// 48 kHz with the default settings): decoded audio lags the input by this
// much.
func (e *OpusEncoder) Lookahead() int {
	if e.enc == nil {
		return 0
	}
	var v C.int
	C.ffi_opus_lookahead(e.enc, &v)
	return int(v)
}

// Encode takes interleaved samples (cfg.Format, cfg.Channels, 48 kHz) whose
// first sample is at pts (48 kHz units), and returns one packet per complete
// 20 ms frame, with PTS = pts of the frame's first input sample, so packet
// timestamps step by exactly [OpusFrameSize]. A partial frame is kept for
// the next call, which is assumed to continue the stream without a gap (its
// pts is then ignored). samples is not retained.
func (e *OpusEncoder) Encode(samples []byte, pts int64) ([]Packet, error) {
	if e.enc == nil {
		return nil, fmt.Errorf("opus encoder: %w", errClosed)
	}
	bpf := e.cfg.Channels * e.cfg.Format.BytesPerSample()
	if len(samples)%bpf != 0 {
		return nil, fmt.Errorf("opus encoder: %d bytes is not a whole number of %d-byte samples", len(samples), bpf)
	}
	if len(e.pending) == 0 {
		e.nextPTS = pts
	}
	var out []Packet
	// Complete the pending partial frame first.
	if len(e.pending) > 0 {
		n := min(e.frameLen-len(e.pending), len(samples))
		e.pending = append(e.pending, samples[:n]...)
		samples = samples[n:]
		if len(e.pending) < e.frameLen {
			return nil, nil
		}
		p, err := e.encodeFrame(e.pending)
		e.pending = e.pending[:0]
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	// Then whole frames straight from the caller's buffer.
	for len(samples) >= e.frameLen {
		p, err := e.encodeFrame(samples[:e.frameLen])
		if err != nil {
			return out, err
		}
		out = append(out, p)
		samples = samples[e.frameLen:]
	}
	e.pending = append(e.pending, samples...)
	return out, nil
}

// Flush pads the pending partial frame with silence and encodes it (end of
// stream). It returns nothing if no samples are pending.
func (e *OpusEncoder) Flush() ([]Packet, error) {
	if e.enc == nil {
		return nil, fmt.Errorf("opus encoder: %w", errClosed)
	}
	if len(e.pending) == 0 {
		return nil, nil
	}
	n := len(e.pending)
	e.pending = e.pending[:e.frameLen]
	clear(e.pending[n:])
	p, err := e.encodeFrame(e.pending)
	e.pending = e.pending[:0]
	if err != nil {
		return nil, err
	}
	return []Packet{p}, nil
}

// encodeFrame encodes exactly one 20 ms frame (Go memory, passed as a call
// argument only).
func (e *OpusEncoder) encodeFrame(frame []byte) (Packet, error) {
	var n C.opus_int32
	out := (*C.uchar)(unsafe.Pointer(&e.out[0]))
	if e.cfg.Format == SampleFormatFLT {
		n = C.opus_encode_float(e.enc, (*C.float)(unsafe.Pointer(&frame[0])), OpusFrameSize, out, opusMaxPacket)
	} else {
		n = C.opus_encode(e.enc, (*C.opus_int16)(unsafe.Pointer(&frame[0])), OpusFrameSize, out, opusMaxPacket)
	}
	if n < 0 {
		return Packet{}, opusErr("encode", C.int(n))
	}
	p := Packet{
		Data: append([]byte(nil), e.out[:n]...),
		PTS:  e.nextPTS,
		DTS:  e.nextPTS,
		Key:  true,
	}
	e.nextPTS += OpusFrameSize
	return p, nil
}

// Close frees the encoder. It is idempotent.
func (e *OpusEncoder) Close() {
	if e.enc != nil {
		C.opus_encoder_destroy(e.enc)
		e.enc = nil
	}
}
