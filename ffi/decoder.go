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

// decoder is the part shared by VideoDecoder and AudioDecoder: an opened
// AVCodecContext, a reusable AVPacket and a spare AVFrame to receive into.
type decoder struct {
	name  string // "h264 decoder", used in errors
	ctx   *C.AVCodecContext
	pkt   *C.AVPacket
	spare *C.AVFrame
}

// open allocates and opens the decoder; on error everything allocated so far
// is freed.
func (d *decoder) open(codec Codec, extradata []byte, cfg decoderConfig) (err error) {
	d.name = codec.String() + " decoder"
	dec, err := findDecoder(codec)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.ctx = C.avcodec_alloc_context3(dec); d.ctx == nil {
		return fmt.Errorf("%s: allocate context: out of memory", d.name)
	}
	if d.pkt = C.av_packet_alloc(); d.pkt == nil {
		return fmt.Errorf("%s: allocate packet: out of memory", d.name)
	}
	if len(extradata) > 0 {
		if ret := C.ffi_set_extradata(d.ctx, (*C.uint8_t)(unsafe.Pointer(&extradata[0])), C.int(len(extradata))); ret < 0 {
			return avErr(d.name, "set extradata", ret)
		}
	}
	if codec.IsVideo() {
		// The bitstream says how large its pictures are: bound what it may
		// make libavcodec allocate.
		d.ctx.max_pixels = C.int64_t(MaxPixels)
	}
	d.ctx.thread_count = C.int(cfg.threads)
	d.ctx.thread_type = C.FF_THREAD_SLICE
	if cfg.frameThreads {
		d.ctx.thread_type |= C.FF_THREAD_FRAME
	} else if C.GoString(dec.name) == "libdav1d" {
		// libdav1d maps LOW_DELAY to max_frame_delay=1. (For H.264 the same
		// flag would disable B-frame reordering, so it is not set there.)
		d.ctx.flags |= C.AV_CODEC_FLAG_LOW_DELAY
	}
	if cfg.sampleRate > 0 {
		d.ctx.sample_rate = C.int(cfg.sampleRate)
	}
	if cfg.channels > 0 {
		C.av_channel_layout_default(&d.ctx.ch_layout, C.int(cfg.channels))
	}
	if ret := C.avcodec_open2(d.ctx, dec, nil); ret < 0 {
		return avErr(d.name, "open", ret)
	}
	return nil
}

// decode submits one packet (nil data means drain) and collects every frame
// the decoder can output into fn.
func (d *decoder) decode(data []byte, pts int64, drain bool, fn func(*C.AVFrame)) error {
	if d.ctx == nil {
		return fmt.Errorf("%s: %w", d.name, errClosed)
	}
	for retried := false; ; retried = true {
		var ret C.int
		switch {
		case drain:
			ret = C.avcodec_send_packet(d.ctx, nil)
		case len(data) == 0:
			return nil
		default:
			ret = C.ffi_send_packet(d.ctx, d.pkt, (*C.uint8_t)(unsafe.Pointer(&data[0])), C.int(len(data)), C.int64_t(pts))
		}
		switch {
		case ret == avEAGAIN && !retried:
			// The output queue is full: drain it, then send again.
			if err := d.receive(fn); err != nil {
				return err
			}
			continue
		case ret == avEOF && drain:
			// Already draining: nothing more to send.
		case ret < 0:
			return avErr(d.name, "send packet", ret)
		}
		return d.receive(fn)
	}
}

// receive hands every available frame to fn until the decoder wants more
// input (EAGAIN) or is fully drained (EOF).
func (d *decoder) receive(fn func(*C.AVFrame)) error {
	for {
		if d.spare == nil {
			if d.spare = C.av_frame_alloc(); d.spare == nil {
				return fmt.Errorf("%s: allocate frame: out of memory", d.name)
			}
		}
		ret := C.avcodec_receive_frame(d.ctx, d.spare)
		if ret == avEAGAIN || ret == avEOF {
			return nil
		}
		if ret < 0 {
			return avErr(d.name, "receive frame", ret)
		}
		f := d.spare
		d.spare = nil
		fn(f)
	}
}

// flush drains the decoder and resets it so it accepts new packets.
func (d *decoder) flush(fn func(*C.AVFrame)) error {
	err := d.decode(nil, 0, true, fn)
	if d.ctx != nil {
		C.avcodec_flush_buffers(d.ctx)
	}
	return err
}

func (d *decoder) close() {
	if d.spare != nil {
		C.ffi_frame_free(d.spare)
		d.spare = nil
	}
	if d.pkt != nil {
		C.ffi_packet_free(d.pkt)
		d.pkt = nil
	}
	if d.ctx != nil {
		C.ffi_context_free(d.ctx)
		d.ctx = nil
	}
}
