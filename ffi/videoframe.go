//go:build cgo

package ffi

/*
#include "ffi.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// VideoFrame is a decoded or raw picture: a handle to a reference-counted
// libav AVFrame whose pixel data lives in C memory.
//
// Ownership: whoever receives a VideoFrame (from a decoder or
// [NewVideoFrame]) must call Release exactly when done; Release is
// idempotent. Planes returns slices over the C buffers that are valid only
// until Release. Passing a frame to [VideoEncoder.Encode] or
// [Scaler.Scale] does not transfer ownership.
type VideoFrame struct {
	f *C.AVFrame
	// PTS is the presentation timestamp: the pts given with the packet that
	// produced the frame (reordered by the decoder), or the value set by the
	// caller before encoding. Encoders read it; scalers copy it. It is
	// math.MinInt64 (AV_NOPTS_VALUE) when the decoder could not tell.
	PTS int64
	// Key is true when the decoder marked the frame as a keyframe.
	Key bool
}

// NewVideoFrame allocates a YUV420P frame with its own buffers, for use as a
// scaler destination or encoder input. Release it when done.
func NewVideoFrame(width, height int) (*VideoFrame, error) {
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("video frame: invalid size %dx%d", width, height)
	}
	var ret C.int
	f := C.ffi_video_frame(C.int(width), C.int(height), C.AV_PIX_FMT_YUV420P, &ret)
	if f == nil {
		return nil, avErr("video frame", "allocate", ret)
	}
	return &VideoFrame{f: f}, nil
}

func wrapVideoFrame(f *C.AVFrame) *VideoFrame {
	return &VideoFrame{f: f, PTS: int64(C.ffi_frame_pts(f)), Key: f.key_frame != 0}
}

// Width in pixels; 0 after Release.
func (v *VideoFrame) Width() int {
	if v.f == nil {
		return 0
	}
	return int(v.f.width)
}

// Height in pixels; 0 after Release.
func (v *VideoFrame) Height() int {
	if v.f == nil {
		return 0
	}
	return int(v.f.height)
}

// Format returns libavutil's name of the pixel format, normally "yuv420p";
// decoders may also produce e.g. "yuvj420p" or "yuv420p10le", which
// [Scaler] converts.
func (v *VideoFrame) Format() string {
	if v.f == nil {
		return "none"
	}
	return C.GoString(C.ffi_pix_fmt_name(v.f.format))
}

// Planes returns the first three planes (Y, U, V for YUV420P) as slices
// over C memory, each Stride*rows bytes long. They are valid until Release.
// Write to them only on a frame you own and that no encoder still
// references (see MakeWritable).
func (v *VideoFrame) Planes() [3][]byte {
	var p [3][]byte
	if v.f == nil {
		return p
	}
	for i := range p {
		h := int(C.ffi_plane_height(v.f, C.int(i)))
		ls := int(C.ffi_frame_linesize(v.f, C.int(i)))
		if h == 0 || ls <= 0 {
			continue
		}
		p[i] = unsafe.Slice((*byte)(unsafe.Pointer(C.ffi_frame_data(v.f, C.int(i)))), h*ls)
	}
	return p
}

// Strides returns the line sizes (bytes per row, including padding) of the
// planes returned by Planes.
func (v *VideoFrame) Strides() [3]int {
	var s [3]int
	if v.f == nil {
		return s
	}
	for i := range s {
		s[i] = int(C.ffi_frame_linesize(v.f, C.int(i)))
	}
	return s
}

// MakeWritable makes sure the frame's buffers are not shared with anyone
// else (copying them if they are), so they can be written. Slices from
// earlier Planes calls are stale afterwards.
func (v *VideoFrame) MakeWritable() error {
	if v.f == nil {
		return errReleased
	}
	if ret := C.av_frame_make_writable(v.f); ret < 0 {
		return avErr("video frame", "make writable", ret)
	}
	return nil
}

// Release frees the frame's reference to its buffers. It is idempotent.
func (v *VideoFrame) Release() {
	if v.f != nil {
		C.ffi_frame_free(v.f)
		v.f = nil
	}
}
