// Area-average downscaling by exactly 2:1 and 3:2, the ratios of the
// default simulcast ladder (1080p → 720p, 720p → 360p → 180p). libswscale's
// SWS_AREA gives the same pictures (within ±1 per sample, its rounding) but
// through its generic filter path: on a 1080p source it costs 2.45 ms per
// picture for the three layers, a tenth of a transcoding session's CPU;
// these fixed kernels read each source sample once and cost a fraction of
// that (BenchmarkResize). Any other ratio or pixel format goes to libswscale.
#ifndef TRIBUTARY_RESIZE_H
#define TRIBUTARY_RESIZE_H

#include <stdint.h>
#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// ffi_halve_plane writes dst (dw × dh) as the mean of each 2×2 block of src.
static void ffi_halve_plane(const uint8_t *src, int sstride, uint8_t *dst, int dstride, int dw, int dh) {
	for (int y = 0; y < dh; y++) {
		const uint8_t *r0 = src + (ptrdiff_t)(2 * y) * sstride;
		const uint8_t *r1 = r0 + sstride;
		uint8_t *d = dst + (ptrdiff_t)y * dstride;
		int x = 0;
#if defined(__SSE2__)
		const __m128i lo = _mm_set1_epi16(0x00ff);
		const __m128i two = _mm_set1_epi16(2);
		for (; x + 16 <= dw; x += 16) {
			__m128i a0 = _mm_loadu_si128((const __m128i *)(r0 + 2 * x));
			__m128i a1 = _mm_loadu_si128((const __m128i *)(r0 + 2 * x + 16));
			__m128i b0 = _mm_loadu_si128((const __m128i *)(r1 + 2 * x));
			__m128i b1 = _mm_loadu_si128((const __m128i *)(r1 + 2 * x + 16));
			// Each 16-bit lane: even byte + odd byte = one horizontal pair.
			__m128i s0 = _mm_add_epi16(_mm_add_epi16(_mm_and_si128(a0, lo), _mm_srli_epi16(a0, 8)),
				_mm_add_epi16(_mm_and_si128(b0, lo), _mm_srli_epi16(b0, 8)));
			__m128i s1 = _mm_add_epi16(_mm_add_epi16(_mm_and_si128(a1, lo), _mm_srli_epi16(a1, 8)),
				_mm_add_epi16(_mm_and_si128(b1, lo), _mm_srli_epi16(b1, 8)));
			s0 = _mm_srli_epi16(_mm_add_epi16(s0, two), 2);
			s1 = _mm_srli_epi16(_mm_add_epi16(s1, two), 2);
			_mm_storeu_si128((__m128i *)(d + x), _mm_packus_epi16(s0, s1));
		}
#endif
		for (; x < dw; x++) {
			d[x] = (uint8_t)((r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1] + 2) >> 2);
		}
	}
}

// ffi_two_thirds_row writes dw (even) samples of d from 3dw/2 vertical
// sums t (weights 3 each): each three of t give two of d, weights 2,1 and
// 1,2, then /9, rounded. t is read up to 5 elements past 3dw/2.
static void ffi_two_thirds_row(const uint16_t *t, uint8_t *d, int dw) {
	int k = 0, i = 0;
#if defined(__SSE2__)
	const __m128i w = _mm_setr_epi16(2, 1, 1, 2, 2, 1, 1, 2);
	const __m128i four = _mm_set1_epi16(4);
	const __m128i ninth = _mm_set1_epi16(7282);
	for (; k + 8 <= dw; k += 8, i += 12) {
		// [t0 t1 t1 t2 | t3 t4 t4 t5] · [2 1 1 2 | 2 1 1 2], summed in
		// pairs: 2t0+t1, t1+2t2, 2t3+t4, t4+2t5.
		__m128i s0 = _mm_shufflelo_epi16(_mm_loadu_si128((const __m128i *)(t + i)), _MM_SHUFFLE(2, 1, 1, 0));
		__m128i s1 = _mm_shufflelo_epi16(_mm_loadu_si128((const __m128i *)(t + i + 3)), _MM_SHUFFLE(2, 1, 1, 0));
		__m128i s2 = _mm_shufflelo_epi16(_mm_loadu_si128((const __m128i *)(t + i + 6)), _MM_SHUFFLE(2, 1, 1, 0));
		__m128i s3 = _mm_shufflelo_epi16(_mm_loadu_si128((const __m128i *)(t + i + 9)), _MM_SHUFFLE(2, 1, 1, 0));
		__m128i a = _mm_madd_epi16(_mm_unpacklo_epi64(s0, s1), w);
		__m128i b = _mm_madd_epi16(_mm_unpacklo_epi64(s2, s3), w);
		// ≤ 2295 + 4: (v + 4) · 7282 >> 16 is (v + 4) / 9 exactly.
		__m128i v = _mm_mulhi_epu16(_mm_add_epi16(_mm_packs_epi32(a, b), four), ninth);
		_mm_storel_epi64((__m128i *)(d + k), _mm_packus_epi16(v, v));
	}
#endif
	for (; k < dw; k += 2, i += 3) {
		d[k] = (uint8_t)(((uint32_t)(2 * t[i] + t[i + 1] + 4) * 7282) >> 16);
		d[k + 1] = (uint8_t)(((uint32_t)(t[i + 1] + 2 * t[i + 2] + 4) * 7282) >> 16);
	}
}

// ffi_two_thirds_plane writes dst (dw × dh, both even) from src (3dw/2 ×
// 3dh/2): each 3×3 block of src gives a 2×2 block of dst, every output
// sample the area average of the 1.5 × 1.5 source samples it covers
// (weights 2,1 and 1,2 in each direction, /9). tmp holds 2 × 3dw/2 + 8
// uint16_t.
static void ffi_two_thirds_plane(const uint8_t *src, int sstride, uint8_t *dst, int dstride, int dw, int dh, uint16_t *tmp) {
	const int sw = dw / 2 * 3;
	uint16_t *t0 = tmp, *t1 = tmp + sw;
	for (int y = 0; y < dh; y += 2) {
		const uint8_t *r0 = src + (ptrdiff_t)(y / 2 * 3) * sstride;
		const uint8_t *r1 = r0 + sstride;
		const uint8_t *r2 = r1 + sstride;
		int x = 0;
#if defined(__SSE2__)
		const __m128i z = _mm_setzero_si128();
		for (; x + 16 <= sw; x += 16) {
			__m128i a = _mm_loadu_si128((const __m128i *)(r0 + x));
			__m128i b = _mm_loadu_si128((const __m128i *)(r1 + x));
			__m128i c = _mm_loadu_si128((const __m128i *)(r2 + x));
			__m128i al = _mm_unpacklo_epi8(a, z), ah = _mm_unpackhi_epi8(a, z);
			__m128i bl = _mm_unpacklo_epi8(b, z), bh = _mm_unpackhi_epi8(b, z);
			__m128i cl = _mm_unpacklo_epi8(c, z), ch = _mm_unpackhi_epi8(c, z);
			_mm_storeu_si128((__m128i *)(t0 + x), _mm_add_epi16(_mm_add_epi16(al, al), bl));
			_mm_storeu_si128((__m128i *)(t0 + x + 8), _mm_add_epi16(_mm_add_epi16(ah, ah), bh));
			_mm_storeu_si128((__m128i *)(t1 + x), _mm_add_epi16(_mm_add_epi16(cl, cl), bl));
			_mm_storeu_si128((__m128i *)(t1 + x + 8), _mm_add_epi16(_mm_add_epi16(ch, ch), bh));
		}
#endif
		for (; x < sw; x++) {
			t0[x] = (uint16_t)(2 * r0[x] + r1[x]);
			t1[x] = (uint16_t)(2 * r2[x] + r1[x]);
		}
		ffi_two_thirds_row(t0, dst + (ptrdiff_t)y * dstride, dw);
		ffi_two_thirds_row(t1, dst + (ptrdiff_t)(y + 1) * dstride, dw);
	}
}

// ffi_resize_kind says which kernel resizes an sw × sh YUV420P picture to
// dw × dh: 2 (halve), 3 (two thirds) or 0 (none: use libswscale). The
// destination must be even (2:1) or a multiple of 4 (3:2), so that the
// chroma planes have the same ratio and the 3:2 kernel whole pairs.
static inline int ffi_resize_kind(int fmt, int sw, int sh, int dw, int dh) {
	if (fmt != AV_PIX_FMT_YUV420P) {
		return 0;
	}
	if (sw == 2 * dw && sh == 2 * dh && dw % 2 == 0 && dh % 2 == 0) {
		return 2; // chroma: sw/2 × sh/2 → dw/2 × dh/2, 2:1 as well
	}
	if (2 * sw == 3 * dw && 2 * sh == 3 * dh && dw % 4 == 0 && dh % 4 == 0) {
		// Chroma planes are dw/2 × dh/2, even again, and 3:2 of sw/2 × sh/2.
		return 3;
	}
	return 0;
}

// ffi_resize applies kind (from ffi_resize_kind) to every plane. tmp
// holds 2 · src width + 8 uint16_t (kind 3 only).
static inline void ffi_resize(int kind, const AVFrame *src, AVFrame *dst, uint16_t *tmp) {
	for (int p = 0; p < 3; p++) {
		int dw = p ? dst->width / 2 : dst->width;
		int dh = p ? dst->height / 2 : dst->height;
		if (kind == 2) {
			ffi_halve_plane(src->data[p], src->linesize[p], dst->data[p], dst->linesize[p], dw, dh);
		} else {
			ffi_two_thirds_plane(src->data[p], src->linesize[p], dst->data[p], dst->linesize[p], dw, dh, tmp);
		}
	}
}

#endif
