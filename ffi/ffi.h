// Small C helpers for the cgo files of package ffi. cgo cannot expand
// function-like macros (AVERROR(EAGAIN), AV_CEIL_RSHIFT, OPUS_SET_*), call
// variadic functions (opus_encoder_ctl), or index C arrays of pointers
// conveniently, so those live here as static inline functions.
#ifndef TRIBUTARY_FFI_H
#define TRIBUTARY_FFI_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

static inline int ffi_eagain(void) { return AVERROR(EAGAIN); }
static inline int ffi_eof(void) { return AVERROR_EOF; }
static inline int ffi_enomem(void) { return AVERROR(ENOMEM); }
static inline int ffi_einval(void) { return AVERROR(EINVAL); }
static inline int64_t ffi_nopts(void) { return AV_NOPTS_VALUE; }

static inline void ffi_strerror(int err, char *buf, int n) {
	if (av_strerror(err, buf, n) < 0) {
		snprintf(buf, n, "libav error %d", err);
	}
}

// ffi_send_packet sends data (possibly Go memory, possibly unpadded) to a
// decoder. pkt->buf is NULL, so avcodec_send_packet copies the data into a
// padded, reference-counted buffer before returning; the pointer is cleared
// again so C never keeps it.
static inline int ffi_send_packet(AVCodecContext *ctx, AVPacket *pkt, uint8_t *data, int size, int64_t pts) {
	pkt->data = data;
	pkt->size = size;
	pkt->pts = pts;
	pkt->dts = AV_NOPTS_VALUE;
	int ret = avcodec_send_packet(ctx, pkt);
	pkt->data = NULL;
	pkt->size = 0;
	return ret;
}

// ffi_set_extradata copies extradata into a padded av_malloc buffer owned by
// ctx (freed by avcodec_free_context).
static inline int ffi_set_extradata(AVCodecContext *ctx, const uint8_t *data, int size) {
	ctx->extradata = av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE);
	if (!ctx->extradata) {
		return AVERROR(ENOMEM);
	}
	memcpy(ctx->extradata, data, size);
	ctx->extradata_size = size;
	return 0;
}

static inline int64_t ffi_frame_pts(const AVFrame *f) {
	return f->pts != AV_NOPTS_VALUE ? f->pts : f->best_effort_timestamp;
}

// ffi_plane_height returns the number of rows of video plane i, or 0 when
// the frame has no such plane.
static inline int ffi_plane_height(const AVFrame *f, int i) {
	if (i < 0 || i >= AV_NUM_DATA_POINTERS || !f->data[i]) {
		return 0;
	}
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
	if (!d) {
		return 0;
	}
	if (i == 1 || i == 2) {
		return AV_CEIL_RSHIFT(f->height, d->log2_chroma_h);
	}
	return f->height;
}

static inline uint8_t *ffi_frame_data(const AVFrame *f, int i) { return f->extended_data[i]; }
static inline int ffi_frame_linesize(const AVFrame *f, int i) { return f->linesize[i]; }

static inline const char *ffi_pix_fmt_name(int fmt) {
	const char *n = av_get_pix_fmt_name((enum AVPixelFormat)fmt);
	return n ? n : "none";
}

// ffi_video_frame allocates a frame with buffers.
static inline AVFrame *ffi_video_frame(int w, int h, int fmt, int *err) {
	AVFrame *f = av_frame_alloc();
	if (!f) {
		*err = AVERROR(ENOMEM);
		return NULL;
	}
	f->width = w;
	f->height = h;
	f->format = fmt;
	*err = av_frame_get_buffer(f, 0);
	if (*err < 0) {
		av_frame_free(&f);
		return NULL;
	}
	return f;
}

static inline AVFrame *ffi_audio_frame(int fmt, int rate, int channels, int nb_samples, int *err) {
	AVFrame *f = av_frame_alloc();
	if (!f) {
		*err = AVERROR(ENOMEM);
		return NULL;
	}
	f->format = fmt;
	f->sample_rate = rate;
	f->nb_samples = nb_samples;
	av_channel_layout_default(&f->ch_layout, channels);
	*err = av_frame_get_buffer(f, 0);
	if (*err < 0) {
		av_frame_free(&f);
		return NULL;
	}
	return f;
}

static inline void ffi_frame_free(AVFrame *f) { av_frame_free(&f); }
static inline void ffi_packet_free(AVPacket *p) { av_packet_free(&p); }
static inline void ffi_context_free(AVCodecContext *c) { avcodec_free_context(&c); }

static inline int ffi_scale(struct SwsContext *s, const AVFrame *src, AVFrame *dst) {
	return sws_scale(s, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data, dst->linesize);
}

// ffi_swr_init (re)creates *s for the given input and output.
static inline int ffi_swr_init(SwrContext **s, const AVChannelLayout *in_layout, int in_fmt, int in_rate,
		int out_channels, int out_fmt, int out_rate) {
	AVChannelLayout out_layout, in_l;
	int ret;
	av_channel_layout_default(&out_layout, out_channels);
	if (in_layout->order == AV_CHANNEL_ORDER_UNSPEC) {
		av_channel_layout_default(&in_l, in_layout->nb_channels);
	} else if ((ret = av_channel_layout_copy(&in_l, in_layout)) < 0) {
		return ret;
	}
	swr_free(s);
	ret = swr_alloc_set_opts2(s, &out_layout, (enum AVSampleFormat)out_fmt, out_rate,
		&in_l, (enum AVSampleFormat)in_fmt, in_rate, 0, NULL);
	av_channel_layout_uninit(&in_l);
	av_channel_layout_uninit(&out_layout);
	if (ret < 0) {
		swr_free(s);
		return ret;
	}
	if ((ret = swr_init(*s)) < 0) {
		swr_free(s);
		return ret;
	}
	return 0;
}

// ffi_swr_convert converts in (NULL to drain) into the interleaved buffer
// out, which holds out_count samples per channel.
static inline int ffi_swr_convert(SwrContext *s, uint8_t *out, int out_count, const AVFrame *in) {
	uint8_t *outs[1] = {out};
	if (!in) {
		return swr_convert(s, outs, out_count, NULL, 0);
	}
	return swr_convert(s, outs, out_count, (const uint8_t **)in->extended_data, in->nb_samples);
}

static inline void ffi_swr_free(SwrContext *s) { swr_free(&s); }

#endif
