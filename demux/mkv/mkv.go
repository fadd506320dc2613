// Package mkv turns Matroska and WebM (files, HTTP streams, live WebM with
// unknown-size segments and clusters) into media tracks and frames.
//
// Supported codecs: VP8, VP9, AV1, H.264, H.265 video; Opus, Vorbis, AAC,
// MP3, MP2, AC-3, E-AC-3, PCM (integer of 8 to 32 bits, float of 32 or
// 64, converted to 16-bit little-endian) and FLAC audio. Track.Config is
// the CodecPrivate: avcC, hvcC,
// av1C, OpusHead, the three Vorbis headers Xiph-laced, the
// AudioSpecificConfig, the FLAC header. Other audio and video codecs are
// refused with demux.ErrUnsupportedCodec naming the codec ID (unless
// SkipUnsupported); subtitle and other tracks are ignored. Tracks with
// content encodings (compression, encryption) are refused.
//
// Blocks: SimpleBlock and BlockGroup (keyframe = no ReferenceBlock), with
// Xiph, EBML and fixed-size lacing. Timestamps: block timestamps are
// presentation times in TimestampScale units; they are converted to the
// track clock (90 kHz video, the sample rate audio) and rebased on the
// first frame of the file. Laced frames after the first are spaced by the
// track's DefaultDuration or their codec's frame duration. Matroska stores
// no decode times: for H.264/H.265 tracks that may reorder frames, DTS is
// derived from the PTS of the frames so far (dts.go).
//
// Library choice: our own EBML reader (ebml.go) rather than
// github.com/at-wat/ebml-go, whose Unmarshal decodes a whole document
// into a struct tree: it cannot hand frames over as they arrive from a
// live stream, and it allocates per element where we allocate one buffer
// per block. Matroska needs little of EBML: variable-size integers,
// unsigned/float/string/binary leaves and masters of known or unknown
// size; the reader bounds every size before allocating.
//
// The package does no I/O beyond io.Reader and starts no goroutines.
//
// Specification: RFC 8794 (EBML); RFC 9559 (Matroska); the WebM Container
// Guidelines; Matroska codec mappings (codec/*).
package mkv

import (
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/demux"
)

const (
	// MaxBlockSize bounds a Block or SimpleBlock: the largest access unit
	// we accept (h264.MaxAccessUnitSize, 8 MiB) plus the block and lacing
	// headers.
	MaxBlockSize = h264.MaxAccessUnitSize + 4096

	// MaxMasterSize bounds the metadata elements read whole (EBML header,
	// Info, Tracks). Real ones are a few KiB; Vorbis setup headers in
	// CodecPrivate are the largest part, well below 1 MiB.
	MaxMasterSize = 1 << 20

	// MaxTracks bounds the tracks of a file.
	MaxTracks = 128

	// MaxDepth bounds the nesting of master elements parsed recursively.
	MaxDepth = 8

	// VideoClockRate is the clock rate of video frames.
	VideoClockRate = 90000

	// DefaultTimestampScale is the TimestampScale when Info has none, in
	// nanoseconds per tick.
	DefaultTimestampScale = 1_000_000
)

// errs builds the errors of this package (demux.ErrMalformed,
// demux.ErrTruncated, demux.ErrUnsupportedCodec, …), which name the
// container "Matroska".
const errs = demux.Container("Matroska")

// Stats counts what the demuxer emitted and dropped.
type Stats struct {
	VideoFrames uint64
	AudioFrames uint64
	Clusters    uint64
	// DroppedOtherTracks counts blocks of tracks that are not demuxed
	// (subtitles, skipped codecs, unknown track numbers).
	DroppedOtherTracks uint64
	// SkippedTracks counts tracks of unsupported codecs skipped
	// (SkipUnsupported).
	SkippedTracks uint64
}
