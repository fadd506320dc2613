// Package mp3 turns an MP3 (or MP2) file or stream into one audio track
// and its frames: ID3v2 tags (at the start or between frames) are
// skipped, the Xing/Info/VBRI frame that describes VBR and CBR files is
// skipped, and every other MPEG audio Layer III (or Layer II) frame
// becomes one media.Frame with its PTS counted in samples from 0. ID3v1
// and APEv2 tags and junk at the end are ignored; junk between frames is
// skipped up to MaxResyncBytes.
//
// MPEG-1 (32/44.1/48 kHz) and MPEG-2 LSF (16/22.05/24 kHz) Layer III and
// Layer II (media.CodecMP2, the first frame decides) are supported. Layer
// I and MPEG-2.5 (8/11.025/12 kHz) are not recognized as MPEG audio
// (mediacommon's header parser, which codec/mp3 wraps, does not know
// them).
//
// The package starts no goroutines and reads its input once, front to back.
//
// Specification: ISO/IEC 11172-3, section 2.4.1.3; ISO/IEC 13818-3;
// ID3v2.4.0 structure, section 3.1; the Xing/LAME and VBRI headers are
// de-facto formats (Gabriel Bouvigne's "MP3 info tag rev 1").
package mp3

import (
	"github.com/tributary-ingress/tributary/demux"
)

const (
	// TrackID is the ID of the only track.
	TrackID = 1

	// MaxResyncBytes bounds the junk skipped to find the next frame
	// header (and, at the start, the first one after the tags). Real
	// files have none between frames; a broken stream a few bytes.
	MaxResyncBytes = 64 * 1024

	// MaxID3Size bounds an ID3v2 tag: its size is a 28-bit syncsafe
	// integer, so 256 MiB. Tags are skipped, never held in memory.
	MaxID3Size = 1<<28 + 20

	// maxFrameSize is the largest MPEG audio frame: Layer II at 384 kb/s
	// and 32 kHz with padding, 1729 bytes; Layer III stays below 1441.
	maxFrameSize = 1729
)

// errs builds the errors of this package (demux.ErrMalformed,
// demux.ErrTruncated, demux.ErrUnsupportedCodec, …), which name the
// container "MP3".
const errs = demux.Container("MP3")
