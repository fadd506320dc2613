// Package mp4 turns ISO BMFF files into media tracks and frames: MP4, MOV
// (QuickTime), M4A and fragmented MP4 (an init segment and moof/mdat
// fragments, as written for live streaming, HLS and CMAF).
//
// Run reads a file through io.ReaderAt: it walks the top-level box headers
// to the moov box (which may sit at the end of the file), then reads each
// sample at its offset, so a remote file can start after a few range
// requests instead of a full download. RunFragmented reads fragmented MP4
// from an io.Reader in one pass.
//
// Supported: H.264 (avc1, avc3), H.265 (hvc1, hev1), AV1 (av01), VP9
// (vp09), AAC and MP3 (mp4a with an MPEG-4 or MPEG-1/2 audio object type),
// Opus (Opus), AC-3 (ac-3), E-AC-3 (ec-3), QuickTime's linear PCM (sowt,
// twos, raw , in24, in32, fl32, fl64, lpcm; converted to 16-bit
// little-endian) and G.711 (alaw, ulaw). QuickTime makes every sample of
// uncompressed audio a sample of the tables: consecutive ones are joined
// into frames of 20 ms. Every other sample entry is reported with
// demux.ErrUnsupportedCodec and its four-character code; tracks that are neither
// audio nor video (timecode, subtitles, chapters, hint) are ignored.
//
// Timestamps: sample times are converted from the track's media timescale
// to 90 kHz for video and to the sample rate for audio. The first edit of
// an edit list is honoured as an initial offset (an empty edit delays the
// track, a media time skips encoder priming or B-frame delay); the
// timeline is then rebased so the earliest decode time of all tracks is 0.
//
// The box tree of moov and moof is parsed by github.com/Eyevinn/mp4ff; the
// sample entries (stsd) are parsed here, because mp4ff neither keeps the
// codec records verbatim nor knows QuickTime version 1 and 2 sound
// descriptions, which ffmpeg writes for AAC in MOV.
//
// The package starts no goroutines.
//
// Specification: ISO/IEC 14496-12 (ISOBMFF), ISO/IEC 14496-14 (MP4),
// ISO/IEC 14496-15 (NAL unit video), Apple QuickTime File Format.
package mp4

import (
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/demux"
)

// Bounds on sizes read from the file. A hostile or broken file cannot make
// the demuxer allocate more than these, whatever it declares.
const (
	// MaxMoovSize bounds the moov box, which is read whole. The sample
	// tables of a 24 h recording with one video and one audio track
	// (about 2.6 M + 4 M samples, 4 bytes each in stsz, fewer in the
	// run-length tables) stay below 48 MiB.
	MaxMoovSize = 64 << 20

	// MaxMoofSize bounds one moof box. A 10 s fragment of 60 fps video
	// and 48 kHz audio has about 1,100 samples of at most 16 bytes in trun.
	MaxMoofSize = 4 << 20

	// MaxSampleSize bounds one sample: the largest access unit we accept.
	MaxSampleSize = h264.MaxAccessUnitSize

	// MaxTopLevelBoxes bounds the top-level boxes walked before moov
	// (ftyp, free, wide, mdat, uuid… are a handful in real files).
	MaxTopLevelBoxes = 1024

	// MaxFragmentSamples bounds the samples of one fragment (or of the
	// sample tables of an initial moov in RunFragmented), which are held
	// in memory until their mdat is read.
	MaxFragmentSamples = 1 << 16

	// MaxTracks bounds the audio and video tracks of a file.
	MaxTracks = 32

	// MaxPendingFrames bounds the frames RunFragmented holds to interleave
	// tracks by decode time. When a track stops delivering samples, the
	// others go on once this many frames wait.
	MaxPendingFrames = 1024

	// DefaultReadAhead is the read-ahead window of Run per track: samples
	// are read from the io.ReaderAt in windows of this size, so an
	// HTTP-backed reader makes one request per window, not per sample.
	DefaultReadAhead = 256 << 10

	// VideoClockRate is the clock rate of video frames.
	VideoClockRate = 90000
)

// errs builds the errors of this package (demux.ErrMalformed,
// demux.ErrTruncated, demux.ErrUnsupportedCodec, …), which name the
// container "MP4".
const errs = demux.Container("MP4")
