package hls

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/grafov/m3u8"
)

// segment is one media segment to play. Its URIs are kept as the
// playlist has them and resolved when the segment is fetched: a queue of
// many segments then holds no copies of a long base URL, only strings of
// the playlist body.
type segment struct {
	uri string
	// mapURI is the URI of the segment's initialization section (fMP4),
	// empty for TS. The segments under one EXT-X-MAP share the string.
	mapURI string
	seq    uint64
	// disc is set for a segment after EXT-X-DISCONTINUITY.
	disc bool
}

// segmentIter walks the segments of a media playlist, refreshing a live
// playlist when it has played all it knows.
//
// Its queue holds at most MaxSegments segments (the most a playlist may
// have), and at most MaxLiveQueuedSegments for a live playlist.
//
// Specification: RFC 8216, sections 6.3.3 (where to start) and 6.3.4
// (reloading).
type segmentIter struct {
	d   *Demuxer
	url string

	started bool
	// next is the media sequence number of the next segment to queue.
	next uint64
	// queue[head:] are the segments to play.
	queue     []segment
	head      int
	ended     bool
	target    time.Duration
	unchanged int
	grew      bool
}

// resolve resolves a URI of the playlist.
func (it *segmentIter) resolve(uri string) (string, error) {
	u, err := resolve(it.url, uri)
	if err != nil {
		return "", fmt.Errorf("playlist %s: %w", shorten(it.url), err)
	}
	return u, nil
}

// pushBack gives back the segment nextSegment just returned.
func (it *segmentIter) pushBack(s segment) {
	if it.head == 0 {
		it.queue = slices.Insert(it.queue, 0, s)
		return
	}
	it.head--
	it.queue[it.head] = s
}

// nextSegment returns the next segment, io.EOF after the last segment of
// an ended playlist.
func (it *segmentIter) nextSegment(ctx context.Context) (segment, error) {
	for it.head == len(it.queue) {
		if it.ended {
			return segment{}, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return segment{}, err
		}
		wait := it.target
		if !it.grew {
			wait /= 2
		}
		if it.d.RefreshInterval > 0 {
			wait = it.d.RefreshInterval
		}
		if err := sleep(ctx, wait); err != nil {
			return segment{}, err
		}
		pl, err := it.d.fetchPlaylist(ctx, it.url)
		if err != nil {
			return segment{}, err
		}
		if pl.media == nil {
			return segment{}, errs.Malformed("playlist %s became a master playlist", it.url)
		}
		if err := it.load(pl.media); err != nil {
			return segment{}, err
		}
		if !it.grew && !it.ended {
			if it.unchanged++; it.unchanged >= MaxUnchangedRefreshes {
				return segment{}, fmt.Errorf("hls: live playlist %s has not grown in %d refreshes", it.url, it.unchanged)
			}
		}
	}
	s := it.queue[it.head]
	it.head++
	return s, nil
}

// load queues the segments of a (re)loaded media playlist that were not
// queued before.
func (it *segmentIter) load(pl *m3u8.MediaPlaylist) error {
	if pl.Iframe {
		return unsupported("I-frame-only playlist %s", it.url)
	}
	if err := checkKey(pl.Key); err != nil {
		return err
	}
	it.target = time.Duration(pl.TargetDuration * float64(time.Second))
	if it.target <= 0 || it.target > time.Hour {
		return errs.Malformed("playlist %s: EXT-X-TARGETDURATION %v", it.url, pl.TargetDuration)
	}
	var segs []*m3u8.MediaSegment
	for _, s := range pl.Segments {
		if s != nil {
			segs = append(segs, s)
		}
	}
	live := !pl.Closed && pl.MediaType != m3u8.VOD
	if it.started && len(segs) > 0 && segs[0].SeqId > it.next {
		// The playlist slid past segments not fetched yet.
		it.d.stats.SkippedSegments += segs[0].SeqId - it.next
	}
	if !it.started && len(segs) > 0 {
		it.started = true
		it.next = segs[0].SeqId
		if live && len(segs) > LiveStartSegments {
			it.next = segs[len(segs)-LiveStartSegments].SeqId
		}
	}
	it.grew = false
	// The segments played are let go before new ones are queued.
	it.queue = slices.Delete(it.queue, 0, it.head)
	it.head = 0
	var mapURI string
	if pl.Map != nil {
		mapURI = pl.Map.URI
	}
	for _, s := range segs {
		if s.Map != nil {
			if s.Map.Limit > 0 {
				return unsupported("EXT-X-MAP with BYTERANGE in %s", it.url)
			}
			mapURI = s.Map.URI
		}
		if err := checkKey(s.Key); err != nil {
			return err
		}
		if s.Limit > 0 {
			return unsupported("EXT-X-BYTERANGE segments in %s", it.url)
		}
		if s.SeqId < it.next {
			continue
		}
		it.queue = append(it.queue, segment{uri: s.URI, mapURI: mapURI, seq: s.SeqId, disc: s.Discontinuity})
		it.next = s.SeqId + 1
		it.grew = true
	}
	if live && len(it.queue) > MaxLiveQueuedSegments {
		// A refresh brought more segments than a live client plays
		// before it falls far behind the live edge: keep the newest.
		drop := len(it.queue) - MaxLiveQueuedSegments
		disc := slices.ContainsFunc(it.queue[:drop+1], func(s segment) bool { return s.disc })
		it.queue = slices.Delete(it.queue, 0, drop)
		it.queue[0].disc = disc
		it.d.stats.SkippedSegments += uint64(drop)
	}
	if it.grew {
		it.unchanged = 0
	}
	if pl.Closed || pl.MediaType == m3u8.VOD {
		// A VOD playlist does not change (RFC 8216, section 4.3.3.5),
		// with or without EXT-X-ENDLIST.
		it.ended = true
	}
	return nil
}

func checkKey(k *m3u8.Key) error {
	if k == nil || k.Method == "" || strings.EqualFold(k.Method, "NONE") {
		return nil
	}
	return unsupported("encrypted segments (EXT-X-KEY METHOD=%s)", k.Method)
}
