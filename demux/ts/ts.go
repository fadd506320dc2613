// Package ts turns MPEG transport streams (files, HTTP streams, SRT
// payloads, HLS TS segments) into media tracks and frames, and reports the
// SCTE-35 splice_insert commands the stream carries.
//
// Supported elementary streams: H.264 (stream type 0x1B), H.265 (0x24),
// MPEG-1 and MPEG-2 video (0x01, 0x02), AAC in ADTS (0x0F) and in LATM
// with LOAS framing (0x11), MPEG-1/2 Audio Layer II and III (0x03, 0x04),
// AC-3 (0x81, or private data 0x06 with an AC-3 descriptor), E-AC-3
// (0x87, or 0x06 with an E-AC-3 descriptor) and Opus (0x06 with the
// "Opus" registration descriptor). MPEG-4 Part 2, VVC, VC-1, DTS, TrueHD
// and the other audio/video types are refused with demux.ErrUnsupportedCodec
// naming the codec, unless Demuxer.SkipUnsupported is set.
//
// A PES packet is taken to hold whole frames (one picture for video,
// whole audio frames and LOAS elements), as every muxer Tributary met
// writes them (ffmpeg, GStreamer, broadcast encoders set
// data_alignment_indicator). SCTE-35 (0x86) sections are parsed (scte35.go); other data streams
// are ignored.
//
// Library choice: github.com/asticode/go-astits reassembles PES packets
// and parses PAT/PMT; we feed it one checked 188-byte packet at a time
// (packets.go) so that SCTE-35 sections are taken out as soon as they
// arrive (astits would hand a non-PSI section over only when the next one
// starts) and so that sync loss, truncation and oversized PES packets are
// detected here. mediacommon's pkg/formats/mpegts is built on the same
// astits demuxer, so it is not faster; it reads the PMT ahead through a
// rewindable reader, which does not fit a Demuxer that is fed one HLS
// segment after the other, and has no hook for SCTE-35. Its one extra,
// 33-bit timestamp unwrapping, is a dozen lines here (timeline.go).
//
// Timestamps: 33-bit 90 kHz PTS/DTS are unwrapped on one timeline for all
// tracks, rebased so the earliest DTS of the first frames of all tracks is
// 0, and converted to 90 kHz for video and to the sample rate for audio.
// The timeline survives consecutive Run calls (HLS segments); Discontinuity
// re-anchors it so the next input continues where the previous one ended.
//
// The package does no I/O beyond io.Reader and starts no goroutines.
//
// Specification: ITU-T Rec. H.222.0 (MPEG-2 Systems); ANSI/SCTE 35 2023;
// ETSI TS 102 366 (Opus in TS: "ETSI TS Opus 0.1.3-draft"); ATSC A/52
// Annex A and ETSI EN 300 468 Annex D (AC-3 and E-AC-3 in TS);
// ISO/IEC 13818-2 (MPEG-2 video); ISO/IEC 14496-3 section 1.7 (LATM).
package ts

import (
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/demux"
)

const (
	// PacketSize is the size of an MPEG-TS packet. 192- and 204-byte
	// variants (M2TS, Reed-Solomon) are not accepted.
	PacketSize = 188

	// MaxPESSize bounds the reassembled payload of one PES packet: the
	// largest access unit we accept (h264.MaxAccessUnitSize, 8 MiB) plus
	// the PES header. A stream that never starts a new payload unit would
	// otherwise make the demuxer buffer without end.
	MaxPESSize = h264.MaxAccessUnitSize + 1024

	// MaxPendingFrames bounds the frames held back before the timeline is
	// anchored (until every track of the PMT has produced a frame). 300
	// frames are several seconds of audio and video, more than any muxer
	// interleaves.
	MaxPendingFrames = 300

	// MaxSectionSize is the largest SCTE-35 section: section_length is 12
	// bits and limited to 4093 by ANSI/SCTE 35, section 9.6.
	MaxSectionSize = 4096

	// VideoClockRate is the clock rate of video frames, and the clock of
	// MPEG-TS timestamps and of SpliceInsert.PTS.
	VideoClockRate = 90000
)

// errs builds the errors of this package (demux.ErrMalformed,
// demux.ErrTruncated, demux.ErrUnsupportedCodec, …), which name the
// container "MPEG-TS".
const errs = demux.Container("MPEG-TS")

// Stats counts what the demuxer emitted, dropped and repaired.
type Stats struct {
	Packets     uint64
	VideoFrames uint64
	AudioFrames uint64
	// DroppedBeforeConfig counts video access units before the first
	// complete set of parameter sets (SPS/PPS, and VPS for H.265).
	DroppedBeforeConfig uint64
	// DroppedNoTimestamp counts PES packets without a PTS that no earlier
	// frame of the track allowed to extrapolate.
	DroppedNoTimestamp uint64
	// DecodeErrors counts PES packets and sections that could not be
	// parsed and were skipped.
	DecodeErrors uint64
	// SkippedStreams counts unsupported elementary streams that were
	// skipped (SkipUnsupported).
	SkippedStreams uint64
	// SpliceInserts counts SCTE-35 splice_insert commands reported.
	SpliceInserts uint64
	// Discontinuities counts Discontinuity calls that re-anchored the
	// timeline.
	Discontinuities uint64
}
