// Package hls plays an HTTP Live Streaming presentation into media tracks
// and frames: it chooses a variant of a master playlist, follows the media
// playlist (VOD to its end, live by refreshing it), fetches the segments
// through a Fetcher and demuxes them, MPEG-TS segments with demux/ts and
// fragmented MP4 segments (EXT-X-MAP) with demux/mp4.
//
// The package does no network I/O of its own: the caller (ingest/url)
// passes the first playlist to Run and a Fetcher for everything else, so
// that redirects, timeouts and address policies live in one place. It
// starts no goroutines; Run blocks between playlist refreshes.
//
// Alternative audio renditions: when the chosen variant names an AUDIO
// group whose chosen rendition (EXT-X-MEDIA TYPE=AUDIO: the DEFAULT=YES
// one, else the AUTOSELECT=YES one, else the first; LANGUAGE is not
// consulted, there being no preference to match) has a playlist of its
// own, that playlist is followed too, with the same limits and its own
// refreshes, and its audio replaces the variant's own. Its track IDs are
// moved up by RenditionTrackIDOffset. The frames of the two streams reach
// OnFrame merged by decode time, on the timeline the segments carry (PES
// time stamps, tfdt and edit list), so that a caller pacing each track
// sees audio and video of the same moment together: one demuxed segment
// of each stream is buffered, and the earliest frame of the two buffers
// goes next. That holds at most one segment's frames per stream plus the
// body of the segment being demuxed: 3 × MaxSegmentSize (384 MiB) in the
// worst case, about three segments' worth of media in practice. A stream
// whose segments have no frame to play ends the pull after 10 in a row,
// since the other waits for it. An audio-only variant is played alone.
// When the rendition playlist cannot be fetched, Run fails naming it: the
// variant's own audio, if it has any, is not played instead, since a
// silent room must not pass for a working pull.
//
// Timestamps continue across segments; at EXT-X-DISCONTINUITY the
// timeline is re-anchored so the frames after it follow the frames before
// it (with an audio rendition, each stream continues after its own last
// frame). SCTE-35 splice_insert commands in TS segments of the variant
// are reported through OnSCTE35.
//
// Playlists are untrusted: a body is refused beyond MaxPlaylistSize, and
// checked before it is decoded for URIs longer than MaxURILength, more
// segments than MaxSegments and more variants or renditions than
// MaxVariants and MaxRenditions. Segment URIs stay as the playlist has
// them until their segment is fetched, and a live playlist keeps at most
// MaxLiveQueuedSegments waiting.
//
// Not supported (reported, not guessed): encrypted segments (EXT-X-KEY
// other than NONE), byte-range segments (EXT-X-BYTERANGE). Alternative
// video renditions and subtitles of EXT-X-MEDIA are not played.
//
// Specification: RFC 8216 (HTTP Live Streaming); draft-pantos-hls-rfc8216bis.
package hls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tributary-ingress/tributary/demux"
)

const (
	// MaxPlaylistSize bounds a playlist body. A live playlist of a day of
	// 2-second segments with long URIs stays below 4 MiB.
	MaxPlaylistSize = 4 << 20

	// MaxURILength bounds every URI of a playlist (a segment, variant or
	// rendition line, a URI attribute) and every URL one resolves to,
	// in bytes: a playlist with a longer one is refused. HTTP servers
	// refuse longer request lines themselves (Apache's LimitRequestLine
	// is 8190, nginx's large header buffers are 8 KiB).
	MaxURILength = 8 << 10

	// MaxSegments bounds the segments of a media playlist: a playlist
	// with more is refused. 65536 segments are 36 hours of 2-second
	// segments (109 hours of the 6-second segments Apple recommends),
	// beyond the longest VOD and DVR playlists in use; a queue of them
	// takes a few MiB, since segment URIs are kept as the playlist has
	// them and resolved one at a time.
	MaxSegments = 1 << 16

	// MaxLiveQueuedSegments bounds the segments of a live playlist
	// waiting to be played. When a refresh brings more, the oldest are
	// dropped (counted in Stats.SkippedSegments): a client that far
	// behind would not catch up with the live edge, and 256 segments are
	// 8.5 minutes of 2-second segments, more than most sliding windows
	// keep.
	MaxLiveQueuedSegments = 256

	// MaxVariants and MaxRenditions bound the variants (EXT-X-STREAM-INF,
	// EXT-X-I-FRAME-STREAM-INF) and the renditions (EXT-X-MEDIA) of a
	// master playlist: a playlist with more is refused. Real ones have
	// tens; the decoder links every rendition of a group to every
	// variant of it, so its memory grows with their product (at most a
	// million links here).
	MaxVariants   = 1024
	MaxRenditions = 1024

	// MaxInitSize bounds an initialization section: real ones are a few
	// KiB (ftyp + moov without samples).
	MaxInitSize = 1 << 20

	// DefaultMaxRetries is the number of retries of a failed fetch.
	DefaultMaxRetries = 3

	// DefaultRetryDelay is the pause before the first retry; it doubles
	// for each further retry.
	DefaultRetryDelay = 500 * time.Millisecond

	// LiveStartSegments is how far from the live edge a live playlist
	// starts: RFC 8216, section 6.3.3, says no closer than three target
	// durations from the end.
	LiveStartSegments = 3

	// MaxUnchangedRefreshes bounds the refreshes of a live playlist that
	// bring no new segment before Run gives up (RFC 8216, section 6.3.4,
	// lets clients treat a playlist that stops growing as ended; 30 is
	// 15 target durations).
	MaxUnchangedRefreshes = 30
)

// errs builds the errors about playlists that cannot be parsed, are
// inconsistent (demux.ErrMalformed) or exceed a bound (demux.ErrOverLimit).
const errs = demux.Container("HLS playlist")

// ErrUnsupported is matched by errors about HLS features this package
// does not play (encryption, byte ranges, unknown segment formats).
var ErrUnsupported = errors.New("unsupported HLS feature")

// Fetcher gets the body of a URL: a playlist, a segment or an
// initialization section. It returns a *StatusError for HTTP responses
// other than 2xx. ingest/url implements it over net/http.
type Fetcher interface {
	Get(ctx context.Context, url string) (io.ReadCloser, error)
}

// StatusError is a non-2xx HTTP response of a Fetcher.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d", e.Code) }

// FetchError is a fetch that failed, after the retries.
type FetchError struct {
	// What is "playlist", "segment" or "initialization section".
	What string
	URL  string
	Err  error
}

func (e *FetchError) Error() string {
	var se *StatusError
	if errors.As(e.Err, &se) {
		return fmt.Sprintf("HTTP %d fetching %s %s", se.Code, e.What, e.URL)
	}
	return fmt.Sprintf("fetching %s %s: %v", e.What, e.URL, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

// Stats counts what Run did.
type Stats struct {
	Segments        uint64
	PlaylistFetches uint64
	Retries         uint64
	Discontinuities uint64
	// SkippedSegments counts live segments that left the playlist before
	// they could be fetched (the client fell behind).
	SkippedSegments uint64
}
