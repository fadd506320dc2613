//go:build cgo

package ffi

/*
#include "ffi.h"
*/
import "C"

import "fmt"

var swsFlags = map[ScaleFlags]C.int{
	ScaleBilinear:     C.SWS_BILINEAR,
	ScaleFastBilinear: C.SWS_FAST_BILINEAR,
	ScaleBicubic:      C.SWS_BICUBIC,
	ScaleArea:         C.SWS_AREA,
	ScalePoint:        C.SWS_POINT,
}

// Scaler resizes and converts pictures to YUV420P (libswscale). It is not
// safe for concurrent use.
//
// The source size and pixel format are taken from each source frame: the
// context is rebuilt (sws_getCachedContext) only when they change, so a
// mid-stream resolution change or a "yuvj420p"/10-bit source just works.
type Scaler struct {
	ctx        *C.struct_SwsContext
	dstW, dstH int
	flags      C.int
	closed     bool
}

// NewScaler prepares a scaler from srcW×srcH YUV420P to dstW×dstH YUV420P.
func NewScaler(srcW, srcH, dstW, dstH int, flags ScaleFlags) (*Scaler, error) {
	f, ok := swsFlags[flags]
	if !ok {
		return nil, fmt.Errorf("scaler: unknown flags %d", flags)
	}
	if srcW <= 0 || srcH <= 0 || dstW <= 0 || dstH <= 0 {
		return nil, fmt.Errorf("scaler: invalid size %dx%d -> %dx%d", srcW, srcH, dstW, dstH)
	}
	s := &Scaler{dstW: dstW, dstH: dstH, flags: f}
	if err := s.prepare(srcW, srcH, C.AV_PIX_FMT_YUV420P); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Scaler) prepare(w, h int, format C.int) error {
	ctx := C.sws_getCachedContext(s.ctx,
		C.int(w), C.int(h), C.enum_AVPixelFormat(format),
		C.int(s.dstW), C.int(s.dstH), C.AV_PIX_FMT_YUV420P,
		s.flags, nil, nil, nil)
	if ctx == nil {
		// sws_getCachedContext has freed the old context.
		s.ctx = nil
		return fmt.Errorf("scaler: cannot convert %dx%d %s to %dx%d yuv420p",
			w, h, C.GoString(C.ffi_pix_fmt_name(format)), s.dstW, s.dstH)
	}
	s.ctx = ctx
	return nil
}

// NewFrame allocates a destination frame of the scaler's output size. Keep
// it and pass it to every Scale call: steady-state scaling then allocates
// nothing.
func (s *Scaler) NewFrame() (*VideoFrame, error) {
	return NewVideoFrame(s.dstW, s.dstH)
}

// Scale writes src, resized, into dst (which must be dstW×dstH YUV420P, e.g.
// from NewFrame) and copies src's PTS and Key. dst is made writable first,
// so a frame still referenced elsewhere is copied rather than overwritten.
func (s *Scaler) Scale(src, dst *VideoFrame) error {
	if s.closed {
		return fmt.Errorf("scaler: %w", errClosed)
	}
	if src.f == nil || dst.f == nil {
		return fmt.Errorf("scaler: %w", errReleased)
	}
	if int(dst.f.width) != s.dstW || int(dst.f.height) != s.dstH || dst.f.format != C.AV_PIX_FMT_YUV420P {
		return fmt.Errorf("scaler: destination is %dx%d %s, want %dx%d yuv420p",
			dst.f.width, dst.f.height, dst.Format(), s.dstW, s.dstH)
	}
	if err := s.prepare(int(src.f.width), int(src.f.height), src.f.format); err != nil {
		return err
	}
	if err := dst.MakeWritable(); err != nil {
		return err
	}
	if ret := C.ffi_scale(s.ctx, src.f, dst.f); ret < 0 {
		return avErr("scaler", "scale", ret)
	}
	dst.PTS = src.PTS
	dst.Key = src.Key
	return nil
}

// Close frees the scaler. It is idempotent.
func (s *Scaler) Close() {
	s.closed = true
	if s.ctx != nil {
		C.sws_freeContext(s.ctx)
		s.ctx = nil
	}
}
