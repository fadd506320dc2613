// Package ffi is the project's only cgo package: a thin, safe binding to the
// FFmpeg libraries (libavcodec, libswscale, libswresample) and to libopus.
//
// It decodes H.264, HEVC, VP8, VP9, AV1 and MPEG-2 video and AAC, MP3,
// Opus, Vorbis, FLAC, MP2, AC-3, E-AC-3, G.711 and 16-bit PCM audio, scales video (libswscale), resamples audio
// (libswresample) and encodes H.264 (libx264), VP8 (libvpx) and Opus
// (libopus). It imports nothing from the project: it takes and returns
// []byte, plain structs and frame handles.
//
// # Memory ownership
//
// C memory is owned explicitly:
//
//   - Decoders, encoders, scalers and resamplers own a libav context. Close
//     frees it; Close is idempotent. An object must not be used
//     concurrently from several goroutines (except
//     [VideoEncoder.ForceKeyframe], which may be called from anywhere).
//   - [VideoFrame] and [AudioFrame] wrap a reference-counted AVFrame. Every
//     frame returned by a decoder or made by [NewVideoFrame] /
//     [NewAudioFrame] must be released with Release (idempotent). The
//     slices returned by Planes point into C memory: they are valid until
//     Release and must not be retained after it. Frames stay valid after
//     the decoder that produced them is closed.
//   - [Packet] data is always Go memory, copied out of the encoder.
//
// Go memory is only ever passed to C as a call argument, for the duration of
// the call (libavcodec copies unpadded packet data before returning), and is
// never stored in a C structure, so nothing has to be pinned.
//
// # Errors
//
// Every libav or libopus failure becomes a Go error naming the codec and the
// library's own message, e.g. "h264 decoder: send packet: Invalid data found
// when processing input". AVERROR(EAGAIN) and AVERROR_EOF are flow control,
// handled inside the package, and never returned as errors.
//
// # Build
//
// The binding is built only with cgo (//go:build cgo) against
// `pkg-config libavcodec libavutil libswscale libswresample opus vpx` (and
// x264.h for its version). Whatever PKG_CONFIG_PATH finds is linked: the
// system's shared libraries by default; the release build
// (scripts/release.sh) points it at a minimal static FFmpeg built by
// scripts/build-ffmpeg.sh, next to Debian's static libx264, libvpx and
// libopus, so that only glibc is left to load. [Build] reports which
// libraries and codecs a binary holds. Without cgo the same API exists but
// every constructor returns [ErrUnavailable] and [Available] is false, so
// the rest of the project still builds and runs with CGO_ENABLED=0: the
// passthrough build.
//
// Versions: written against FFmpeg 5.1 (libavcodec 59), using the ch_layout
// API and swr_alloc_set_opts2, which are also the only APIs left in
// FFmpeg 7.
package ffi

import (
	"errors"
	"fmt"
)

// ErrUnavailable is returned by every constructor when the package was built
// without cgo, so no codec library is linked.
// Its text is what a streamer reads in the ingress state, so it names the
// build and what to run instead.
var ErrUnavailable = errors.New("transcoding is not in this build: this is Tributary's passthrough build " +
	"(made without cgo, so without FFmpeg); run the tributary-linux-amd64 build to transcode")

// ErrUnsupportedCodec is wrapped by the errors returned when a codec is not
// known to this package, is of the wrong kind (audio codec given to a video
// decoder), or is missing from the linked libavcodec. The message names the
// codec: "unsupported codec av1".
var ErrUnsupportedCodec = errors.New("unsupported codec")

// Codec identifies a codec, independently of libavcodec's numbering.
type Codec int

// Codecs known to the package. Which of them can actually be decoded or
// encoded depends on the linked libraries; see [ErrUnsupportedCodec].
const (
	CodecH264 Codec = iota + 1
	CodecHEVC
	CodecVP8
	CodecVP9
	CodecAV1
	CodecAAC
	CodecMP3
	CodecOpus
	CodecVorbis
	CodecFLAC
	CodecMPEG2Video
	CodecMP2
	CodecAC3
	CodecEAC3
	CodecPCMA
	CodecPCMU
	// CodecPCM is interleaved signed 16-bit little-endian samples; the
	// decoder needs the rate and channels ([WithAudioParams]).
	CodecPCM
)

// lastCodec is the last value of the enum.
const lastCodec = CodecPCM

var codecNames = map[Codec]string{
	CodecH264:   "h264",
	CodecHEVC:   "hevc",
	CodecVP8:    "vp8",
	CodecVP9:    "vp9",
	CodecAV1:    "av1",
	CodecAAC:    "aac",
	CodecMP3:    "mp3",
	CodecOpus:   "opus",
	CodecVorbis: "vorbis",
	CodecFLAC:   "flac",

	CodecMPEG2Video: "mpeg2video",
	CodecMP2:        "mp2",
	CodecAC3:        "ac3",
	CodecEAC3:       "eac3",
	CodecPCMA:       "pcm_alaw",
	CodecPCMU:       "pcm_mulaw",
	CodecPCM:        "pcm_s16le",
}

// String returns the libavcodec-style lowercase name ("h264"), or
// "codec(N)" for a value outside the enum.
func (c Codec) String() string {
	if n, ok := codecNames[c]; ok {
		return n
	}
	return fmt.Sprintf("codec(%d)", int(c))
}

// IsVideo reports whether c is a video codec.
func (c Codec) IsVideo() bool {
	return c >= CodecH264 && c <= CodecAV1 || c == CodecMPEG2Video
}

// IsAudio reports whether c is an audio codec.
func (c Codec) IsAudio() bool {
	return c >= CodecAAC && c <= CodecFLAC || c >= CodecMP2 && c <= lastCodec
}

func unsupported(c Codec, why string) error {
	if why == "" {
		return fmt.Errorf("%w %s", ErrUnsupportedCodec, c)
	}
	return fmt.Errorf("%w %s (%s)", ErrUnsupportedCodec, c, why)
}

// SampleFormat is an audio sample format. The "P" formats are planar (one
// plane per channel); the others are interleaved.
type SampleFormat int

// Sample formats, mirroring libavutil's AVSampleFormat.
const (
	SampleFormatUnknown SampleFormat = iota
	SampleFormatU8
	SampleFormatS16
	SampleFormatS32
	SampleFormatFLT
	SampleFormatDBL
	SampleFormatU8P
	SampleFormatS16P
	SampleFormatS32P
	SampleFormatFLTP
	SampleFormatDBLP
	SampleFormatS64
	SampleFormatS64P
)

var sampleFormatNames = [...]string{
	"unknown", "u8", "s16", "s32", "flt", "dbl", "u8p", "s16p", "s32p", "fltp", "dblp", "s64", "s64p",
}

// String returns libavutil's name of the format ("s16", "fltp").
func (f SampleFormat) String() string {
	if f < 0 || int(f) >= len(sampleFormatNames) {
		return fmt.Sprintf("sampleformat(%d)", int(f))
	}
	return sampleFormatNames[f]
}

// Planar reports whether f stores one plane per channel.
func (f SampleFormat) Planar() bool {
	switch f {
	case SampleFormatU8P, SampleFormatS16P, SampleFormatS32P, SampleFormatFLTP, SampleFormatDBLP, SampleFormatS64P:
		return true
	}
	return false
}

// BytesPerSample returns the size of one sample of one channel, or 0 for
// [SampleFormatUnknown].
func (f SampleFormat) BytesPerSample() int {
	switch f {
	case SampleFormatU8, SampleFormatU8P:
		return 1
	case SampleFormatS16, SampleFormatS16P:
		return 2
	case SampleFormatS32, SampleFormatS32P, SampleFormatFLT, SampleFormatFLTP:
		return 4
	case SampleFormatDBL, SampleFormatDBLP, SampleFormatS64, SampleFormatS64P:
		return 8
	}
	return 0
}

// Packet is one encoded frame. Data is Go memory owned by the receiver.
type Packet struct {
	// Data is the encoded frame: Annex-B (with start codes) for H.264, a raw
	// frame for VP8 and Opus.
	Data []byte
	// PTS is the presentation time, in the units of the frames given to the
	// encoder (90 kHz for video, 48 kHz samples for Opus).
	PTS int64
	// DTS is the decode time; equal to PTS since no encoder here reorders.
	DTS int64
	// Key marks a random-access point (IDR for H.264, keyframe for VP8;
	// always true for Opus).
	Key bool
}

// ScaleFlags selects the libswscale interpolation.
type ScaleFlags int

// Scaling algorithms (the SWS_* flags).
const (
	// ScaleBilinear is the default: good quality, cheap.
	ScaleBilinear ScaleFlags = iota
	// ScaleFastBilinear is faster than bilinear, with more aliasing.
	ScaleFastBilinear
	// ScaleBicubic is sharper and slower.
	ScaleBicubic
	// ScaleArea averages source pixels; good for large downscales.
	ScaleArea
	// ScalePoint is nearest neighbour.
	ScalePoint
)

// DecoderOption configures a decoder.
type DecoderOption func(*decoderConfig)

// MaxPixels is the largest picture a video decoder accepts (width ×
// height): 4096×2304, room for 4K UHD and DCI 4K. A bitstream declaring a
// larger picture fails to decode ("Picture size … is invalid") instead of
// making libavcodec allocate whatever it claims (a 16384×16384 SPS would
// be 400 MB a picture).
const MaxPixels = 4096 * 2304

type decoderConfig struct {
	threads      int
	frameThreads bool
	sampleRate   int
	channels     int
}

// WithThreads sets the decoder thread count; 0 (the default) lets libavcodec
// choose. Only slice threading is used unless [WithFrameThreads] is given.
func WithThreads(n int) DecoderOption {
	return func(c *decoderConfig) { c.threads = n }
}

// WithFrameThreads enables frame threading: better throughput on
// single-slice streams, at the cost of (threads-1) frames of latency.
func WithFrameThreads() DecoderOption {
	return func(c *decoderConfig) { c.frameThreads = true }
}

// WithAudioParams tells an audio decoder the sample rate and channel count
// when the bitstream and extradata do not carry them (raw Opus, AAC without
// AudioSpecificConfig or ADTS).
func WithAudioParams(sampleRate, channels int) DecoderOption {
	return func(c *decoderConfig) {
		c.sampleRate = sampleRate
		c.channels = channels
	}
}

func newDecoderConfig(opts []DecoderOption) decoderConfig {
	var c decoderConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// VideoEncoderConfig configures a [VideoEncoder].
type VideoEncoderConfig struct {
	// Codec is CodecH264 (libx264) or CodecVP8 (libvpx).
	Codec Codec
	// Width and Height of the input frames, which must be YUV420P.
	Width, Height int
	// FPS is the nominal frame rate, used for the keyframe interval and rate
	// control. Timestamps are taken from the frames (90 kHz).
	FPS int
	// Bitrate in bits per second. Rate control is CBR-like with a 1 s VBV
	// buffer (max rate = bitrate, buffer = bitrate bits).
	Bitrate int
	// KeyframeInterval in frames; 0 means 2*FPS (a keyframe every 2 s).
	KeyframeInterval int
	// Preset is the x264 preset; "" means "veryfast". Ignored for VP8.
	Preset string
	// CPUUsed is libvpx's speed setting (0..16, higher is faster); 0 means
	// 8. Ignored for H.264.
	CPUUsed int
	// Threads is the encoder thread count; 0 lets the library choose. x264
	// uses sliced threads (tune zerolatency), so threads add no latency.
	Threads int
}

// OpusEncoderConfig configures an [OpusEncoder].
type OpusEncoderConfig struct {
	// Channels is 1 or 2.
	Channels int
	// Bitrate in bits per second; 0 lets libopus choose.
	Bitrate int
	// Format of the input samples: SampleFormatS16 (the default when
	// unset) or SampleFormatFLT, interleaved, 48 kHz.
	Format SampleFormat
	// DTX enables discontinuous transmission: during silence the encoder
	// emits tiny (1–2 byte) packets that a sender may skip.
	DTX bool
	// FEC enables in-band forward error correction, tuned for 10 % loss.
	FEC bool
}

// OpusFrameSize is the number of samples per channel in one Opus packet:
// 20 ms at 48 kHz.
const OpusFrameSize = 960

// OpusSampleRate is the only input sample rate the Opus encoder accepts.
const OpusSampleRate = 48000

var (
	errReleased = errors.New("frame already released")
	errClosed   = errors.New("already closed")
)

// LogLevel is the verbosity of the FFmpeg libraries' own stderr logging;
// see SetLogLevel.
type LogLevel int

// Log levels, from silent to chatty.
const (
	LogQuiet LogLevel = iota
	LogError
	LogWarning
	LogInfo
)
