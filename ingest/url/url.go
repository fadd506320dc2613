// Package url is the pull input: it fetches media from an http(s) URL —
// files with range requests (an MP4 whose moov atom is at the end starts
// without downloading the whole file), streams, HLS playlists — or reads
// it from an srt:// or rtsp(s):// server (ingest/srt, ingest/rtsp),
// recognizes the container from its first bytes rather than from the
// extension, and hands tracks and frames to a sink at the pace the sink
// takes them.
//
// Every connection of a pull goes through a Client: the address guard
// (guard.go: no loopback, private, link-local or otherwise special
// destination unless allowed), an idle deadline on every response body
// (idle.go), and one budget of temporary disk for the MP4 files that must
// be spooled (spool.go). The errors Pull returns are written for the
// ingress state a user reads: URLs in them are redacted (redact.go) and
// they never quote a response body.
package url

import (
	"strings"
)

// Format is a recognized container.
type Format string

// Containers the pull input reads.
const (
	FormatUnknown Format = ""
	FormatMP4     Format = "mp4" // MP4, MOV, M4A, fragmented MP4
	FormatMKV     Format = "mkv" // Matroska, WebM
	FormatOgg     Format = "ogg"
	FormatMP3     Format = "mp3"
	FormatTS      Format = "ts"
	FormatFLV     Format = "flv"
	FormatHLS     Format = "hls"
	FormatWAV     Format = "wav"
	FormatRTSP    Format = "rtsp" // RTP from an RTSP server, not a container
)

// Sniff recognizes the container from the first bytes; the content type
// and the path only break ties (an MP3 without ID3 tag, a playlist).
func Sniff(b []byte, contentType, path string) Format {
	switch {
	case len(b) >= 8 && isMP4Box(b[4:8]):
		return FormatMP4
	case len(b) >= 4 && b[0] == 0x1a && b[1] == 0x45 && b[2] == 0xdf && b[3] == 0xa3:
		return FormatMKV
	case len(b) >= 4 && string(b[:4]) == "OggS":
		return FormatOgg
	case len(b) >= 3 && string(b[:3]) == "FLV":
		return FormatFLV
	case len(b) >= 12 && (string(b[:4]) == "RIFF" || string(b[:4]) == "RF64") && string(b[8:12]) == "WAVE":
		return FormatWAV
	case len(b) >= 7 && strings.HasPrefix(strings.TrimLeft(string(b[:min(len(b), 64)]), "\ufeff \r\n\t"), "#EXTM3U"):
		return FormatHLS
	case isTS(b):
		return FormatTS
	case len(b) >= 3 && string(b[:3]) == "ID3":
		return FormatMP3
	case len(b) >= 2 && b[0] == 0xff && b[1]&0xe0 == 0xe0 && b[1]&0x06 != 0:
		return FormatMP3 // MPEG audio frame sync with a layer set
	}
	ct := strings.ToLower(contentType)
	switch {
	case strings.Contains(ct, "mpegurl"):
		return FormatHLS
	case strings.Contains(ct, "audio/mpeg") && !strings.HasSuffix(strings.ToLower(path), ".m3u8"):
		return FormatMP3
	}
	return FormatUnknown
}

func isMP4Box(t []byte) bool {
	switch string(t) {
	case "ftyp", "moov", "mdat", "free", "skip", "wide", "styp", "moof", "sidx", "pnot":
		return true
	}
	return false
}

// isTS checks the 0x47 sync byte every 188 bytes.
func isTS(b []byte) bool {
	if len(b) < 188*3 {
		return len(b) >= 188 && b[0] == 0x47 && (len(b) < 189 || b[188] == 0x47)
	}
	for i := 0; i < 3; i++ {
		if b[i*188] != 0x47 {
			return false
		}
	}
	return true
}
