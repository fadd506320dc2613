//go:build cgo

package ffi

/*
#include <stdlib.h>
#include "ffi.h"
#include "resize.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

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
//
// With ScaleArea, a YUV420P source exactly twice or 3/2 the destination
// size (the default simulcast ladder's ratios) is resized by Tributary's
// own area kernels (resize.h), which give the same pictures as libswscale
// within its rounding at a fraction of its cost.
type Scaler struct {
	ctx        *C.struct_SwsContext
	dstW, dstH int
	flags      C.int
	closed     bool
	// tmp is the two-thirds kernel's row buffer (tmpN uint16_t).
	tmp  *C.uint16_t
	tmpN int
	// swscaleOnly turns the kernels off (tests compare the two).
	swscaleOnly bool
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
	if err := dst.MakeWritable(); err != nil {
		return err
	}
	kind := C.int(0)
	if s.flags == C.SWS_AREA && !s.swscaleOnly {
		kind = C.ffi_resize_kind(src.f.format, src.f.width, src.f.height, dst.f.width, dst.f.height)
	}
	if kind != 0 {
		if n := 2*int(src.f.width) + 8; kind == 3 && s.tmpN < n {
			C.free(unsafe.Pointer(s.tmp))
			s.tmp = (*C.uint16_t)(C.malloc(C.size_t(n * 2)))
			if s.tmp == nil {
				s.tmpN = 0
				return fmt.Errorf("scaler: out of memory")
			}
			s.tmpN = n
		}
		C.ffi_resize(kind, src.f, dst.f, s.tmp)
	} else {
		if err := s.prepare(int(src.f.width), int(src.f.height), src.f.format); err != nil {
			return err
		}
		if ret := C.ffi_scale(s.ctx, src.f, dst.f); ret < 0 {
			return avErr("scaler", "scale", ret)
		}
	}
	dst.PTS = src.PTS
	dst.Key = src.Key
	return nil
}

// Close frees the scaler. It is idempotent.
func (s *Scaler) Close() {
	s.closed = true
	C.free(unsafe.Pointer(s.tmp))
	s.tmp, s.tmpN = nil, 0
	if s.ctx != nil {
		C.sws_freeContext(s.ctx)
		s.ctx = nil
	}
}

// resizeKind is the kernel Scale uses from src to dst with ScaleArea (0:
// libswscale); for tests.
func resizeKind(src, dst *VideoFrame) int {
	return int(C.ffi_resize_kind(src.f.format, src.f.width, src.f.height, dst.f.width, dst.f.height))
}
