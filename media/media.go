// Package media defines the units every stage of an ingest session shares:
// tracks, frames, codec IDs and timestamp helpers. It imports nothing of
// Tributary and only the standard library, so demuxers, transcoders and the
// room publisher can all depend on it.
package media

import (
	"fmt"
	"time"
)

// Kind is audio or video.
type Kind int

// Kinds of tracks.
const (
	KindVideo Kind = iota + 1
	KindAudio
)

func (k Kind) String() string {
	switch k {
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// CodecID names a codec.
type CodecID int

// Codecs Tributary knows.
const (
	CodecUnknown CodecID = iota
	CodecH264
	CodecH265
	CodecVP8
	CodecVP9
	CodecAV1
	CodecAAC
	CodecOpus
	CodecMP3
	CodecVorbis
	CodecFLAC
	CodecPCM // interleaved signed 16-bit little-endian
	// Codecs that are always transcoded (a WebRTC receiver takes none of
	// them): MPEG-2 video, MPEG-1/2 Audio Layer II, AC-3, E-AC-3, and
	// G.711 A-law and µ-law (8-bit samples, one byte per sample).
	CodecMPEG2Video
	CodecMP2
	CodecAC3
	CodecEAC3
	CodecPCMA
	CodecPCMU
)

var codecNames = map[CodecID]string{
	CodecH264: "H.264", CodecH265: "H.265", CodecVP8: "VP8", CodecVP9: "VP9", CodecAV1: "AV1",
	CodecAAC: "AAC", CodecOpus: "Opus", CodecMP3: "MP3", CodecVorbis: "Vorbis", CodecFLAC: "FLAC",
	CodecPCM: "PCM", CodecMPEG2Video: "MPEG-2 video", CodecMP2: "MP2", CodecAC3: "AC-3", CodecEAC3: "E-AC-3",
	CodecPCMA: "G.711 A-law (PCMA)", CodecPCMU: "G.711 µ-law (PCMU)",
}

func (c CodecID) String() string {
	if n, ok := codecNames[c]; ok {
		return n
	}
	return fmt.Sprintf("codec(%d)", int(c))
}

// Kind returns whether the codec is audio or video.
func (c CodecID) Kind() Kind {
	switch c {
	case CodecH264, CodecH265, CodecVP8, CodecVP9, CodecAV1, CodecMPEG2Video:
		return KindVideo
	case CodecAAC, CodecOpus, CodecMP3, CodecVorbis, CodecFLAC, CodecPCM, CodecMP2, CodecAC3, CodecEAC3, CodecPCMA, CodecPCMU:
		return KindAudio
	}
	return 0
}

// MimeType is the WebRTC/LiveKit MIME type of the codec, as reported in
// IngressState ("video/H264", "audio/opus", …).
func (c CodecID) MimeType() string {
	switch c {
	case CodecH264:
		return "video/H264"
	case CodecH265:
		return "video/H265"
	case CodecVP8:
		return "video/VP8"
	case CodecVP9:
		return "video/VP9"
	case CodecAV1:
		return "video/AV1"
	case CodecAAC:
		return "audio/mp4a-latm"
	case CodecOpus:
		return "audio/opus"
	case CodecMP3:
		return "audio/mpeg"
	case CodecVorbis:
		return "audio/vorbis"
	case CodecFLAC:
		return "audio/flac"
	case CodecPCM:
		return "audio/L16"
	case CodecMPEG2Video:
		return "video/MPV"
	case CodecMP2:
		return "audio/MPA"
	case CodecAC3:
		return "audio/ac3"
	case CodecEAC3:
		return "audio/eac3"
	case CodecPCMA:
		return "audio/PCMA"
	case CodecPCMU:
		return "audio/PCMU"
	}
	return ""
}

// Track describes one elementary stream. It is immutable once handed
// downstream.
type Track struct {
	ID    int
	Kind  Kind
	Codec CodecID
	// ClockRate is the timestamp unit of the track's frames, in ticks per
	// second: 90000 for video, the sample rate for audio.
	ClockRate int
	// Config is the codec-private data: AVCDecoderConfigurationRecord,
	// HEVCDecoderConfigurationRecord, AudioSpecificConfig, OpusHead, …
	Config []byte
	// Width and Height of video, 0 when unknown.
	Width, Height int
	// SampleRate and Channels of audio, 0 when unknown.
	SampleRate, Channels int
}

// Frame is one access unit (video) or one or more codec frames (audio).
// It is read-only once handed downstream: several consumers may share it.
type Frame struct {
	Track *Track
	// PTS is the presentation time in Track.ClockRate ticks, unwrapped.
	PTS int64
	// DTS is the decode time; equal to PTS when there is no reordering.
	DTS int64
	// Key marks a random-access point (IDR/keyframe; always true for audio).
	Key bool
	// Wall is the arrival (or NTP) time if known, zero otherwise.
	Wall time.Time
	// Data holds video NAL units without start codes or length prefixes
	// (H.264/H.265), or one element with the whole frame (VP8/VP9/AV1
	// temporal unit, audio frames).
	Data [][]byte
	// AudioLevel is the level of an audio frame in -dBov as RFC 6464
	// writes it (0 is the loudest, 127 silence), when HasAudioLevel: the
	// transcoder measures it, and LiveKit's active-speaker detection reads
	// it from the RTP header extension.
	AudioLevel    uint8
	HasAudioLevel bool
}

// Duration converts ticks of a clock rate to a time.Duration without
// overflow for any realistic stream length.
func Duration(ticks int64, clockRate int) time.Duration {
	return time.Duration(MulDiv(ticks, int64(time.Second), int64(clockRate)))
}

// Rescale converts ticks from one clock rate to another.
func Rescale(ticks int64, from, to int) int64 {
	return MulDiv(ticks, int64(to), int64(from))
}

// MulDiv returns v*m/d, splitting v so the product does not overflow int64
// (an int64 of 90 kHz ticks times 1e9 would overflow after ~100 s).
func MulDiv(v, m, d int64) int64 {
	return (v/d)*m + (v%d)*m/d
}
