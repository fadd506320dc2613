// Package ogg turns an Ogg file or stream into an audio track and its
// frames: pages are read and checked (CRC), packets are rebuilt from the
// lacing values (across pages too), and the first Opus or Vorbis logical
// stream becomes the track.
//
//   - Opus: OpusHead is Track.Config; OpusTags is skipped. Each packet's
//     duration comes from its TOC byte; the PTS of the packets of a page are
//     counted back from the page's granule position minus the pre-skip on
//     the first page, then forward (granule positions that jump ahead, as
//     after a gap, move the timeline forward; the shortened last page of a
//     stream does not move it back). Clock rate 48 kHz.
//   - Vorbis: Track.Config is the Xiph-laced extradata libavcodec wants
//     (0x02, the laced sizes of the identification and comment headers,
//     then the three headers). Packet durations need the modes of the
//     setup header, which are not parsed: the packets completed on a page
//     share the span between the previous granule position and the page's
//     evenly. Clock rate = the sample rate.
//
// Timestamps are rebased so that the first packet is at 0. FLAC, Speex and
// Theora streams are refused by name with demux.ErrUnsupportedCodec; Skeleton and
// unknown streams are ignored, as are the streams of a chained file after
// the first.
//
// The package starts no goroutines and reads its input once, front to back.
//
// Specification: RFC 3533 (Ogg), RFC 7845 (Opus in Ogg), RFC 6716 section
// 3.1 (TOC byte), Vorbis I specification sections 4.2 and A.
package ogg

import (
	"github.com/tributary-ingress/tributary/demux"
)

const (
	// TrackID is the ID of the track.
	TrackID = 1

	// MaxPacketSize bounds one packet rebuilt from pages. Audio packets
	// are far smaller (an Opus packet is at most 120 ms, ~60 KB at the
	// highest rate); comment headers with cover art reach a few MB.
	MaxPacketSize = 16 << 20

	// MaxResyncBytes bounds the junk skipped to find the next page.
	MaxResyncBytes = 64 * 1024

	// MaxStreams bounds the logical streams of a file (audio, video,
	// skeleton…).
	MaxStreams = 16

	// maxHeaderPages bounds the pages read before the headers of the
	// track are complete.
	maxHeaderPages = 1024
)

// errs builds the errors of this package (demux.ErrMalformed,
// demux.ErrTruncated, demux.ErrUnsupportedCodec, …), which name the
// container "Ogg".
const errs = demux.Container("Ogg")
