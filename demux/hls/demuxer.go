package hls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tributary-ingress/tributary/demux/mp4"
	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/media"
)

// MaxSegmentSize bounds a media segment, which Run reads whole before
// demuxing it (so that a failed download is retried instead of leaving
// half a segment demuxed): 10 s of 2160p at 50 Mb/s is 63 MB.
const MaxSegmentSize = 128 << 20

// Demuxer plays one HLS presentation. Frames are those of demux/ts and
// demux/mp4: they own their bytes.
//
// A Demuxer runs once and is not safe for concurrent use.
type Demuxer struct {
	// URL is the URL of the playlist passed to Run: the base of the
	// relative URIs in it. Required.
	URL string
	// Fetcher gets the variant playlist, its refreshes and the segments.
	// Required.
	Fetcher Fetcher

	// MaxBandwidth is the highest BANDWIDTH of a variant to choose, in
	// bit/s; 0 chooses the highest. When no variant fits, the lowest is
	// chosen.
	MaxBandwidth int
	// AudioOnly chooses among the audio-only variants of a master
	// playlist that also has variants with video.
	AudioOnly bool

	// MaxRetries is the number of retries of a failed fetch; 0 means
	// DefaultMaxRetries, negative none.
	MaxRetries int
	// RetryDelay is the pause before the first retry; 0 means
	// DefaultRetryDelay.
	RetryDelay time.Duration
	// RefreshInterval overrides the refresh cadence of live playlists,
	// which is otherwise the target duration, or half of it after a
	// refresh without new segments (RFC 8216, section 6.3.4).
	RefreshInterval time.Duration

	// OnVariant is called with the chosen variant of a master playlist.
	// Optional.
	OnVariant func(Variant) error
	// OnTrack is called for every track before its first frame; again
	// with a new *Track after a discontinuity or a configuration change.
	// Required.
	OnTrack func(*media.Track) error
	// OnFrame is called for every frame, segment after segment. Required.
	OnFrame func(*media.Frame) error
	// OnSCTE35 is called for the SCTE-35 splice_insert commands of TS
	// segments. Optional.
	OnSCTE35 func(ts.SpliceInsert) error

	ts    *ts.Demuxer
	stats Stats
	// Timeline of the frames emitted, for fMP4 segments after a
	// discontinuity (demux/ts keeps its own): end is the latest end
	// (DTS plus duration) emitted, in nanoseconds.
	endNs     int64
	emitted   bool
	lastDTSNs map[int]int64
	deltaNs   map[int]int64
	// offsetNs is added to the frames of the current fMP4 group.
	offsetNs int64
	inFMP4   bool
}

// Initialize checks the configuration. Call it before Run.
func (d *Demuxer) Initialize() error {
	if d.Fetcher == nil || d.OnTrack == nil || d.OnFrame == nil {
		return errors.New("hls: Demuxer needs Fetcher, OnTrack and OnFrame")
	}
	if d.MaxRetries == 0 {
		d.MaxRetries = DefaultMaxRetries
	}
	if d.RetryDelay <= 0 {
		d.RetryDelay = DefaultRetryDelay
	}
	d.ts = &ts.Demuxer{OnTrack: d.OnTrack, OnFrame: d.onFrame, OnSCTE35: d.OnSCTE35}
	d.lastDTSNs = map[int]int64{}
	d.deltaNs = map[int]int64{}
	return d.ts.Initialize()
}

// Stats returns what Run did so far.
func (d *Demuxer) Stats() Stats { return d.stats }

// Run plays the presentation whose first playlist (master or media) r
// holds, fetched from URL. It returns nil when a VOD or ended live
// playlist has been played to its end (EXT-X-ENDLIST), ctx.Err() when
// ctx ends, a *FetchError when a fetch failed after the retries, an error
// matching demux.ErrMalformed or ErrUnsupported, or an error of demux/ts or
// demux/mp4 (demux.ErrUnsupportedCodec, …) or of a callback as is.
func (d *Demuxer) Run(ctx context.Context, r io.Reader) error {
	if d.ts == nil {
		return errors.New("hls: Run before Initialize")
	}
	if len(d.URL) > MaxURILength {
		return errs.OverLimit("playlist URL of %d bytes, longer than MaxURILength (%d bytes)", len(d.URL), MaxURILength)
	}
	pl, err := parsePlaylist(r)
	if err != nil {
		return err
	}
	mediaURL, audioURL := d.URL, ""
	if pl.master != nil {
		v := chooseVariant(pl.master, d.MaxBandwidth, d.AudioOnly)
		if v == nil {
			return errs.Malformed("master playlist %s lists no playable variant", d.URL)
		}
		if mediaURL, err = resolve(d.URL, v.URI); err != nil {
			return err
		}
		if a := chooseAudioRendition(pl.master, v); a != nil && !audioOnly(v) {
			// An audio-only variant is its own audio (Apple's point to
			// the rendition's playlist): only a variant with video is
			// played with a rendition.
			if audioURL, err = resolve(d.URL, a.URI); err != nil {
				return err
			}
			if audioURL == mediaURL {
				audioURL = ""
			}
		}
		if d.OnVariant != nil {
			err := d.OnVariant(Variant{URL: mediaURL, Bandwidth: int(v.Bandwidth), Resolution: v.Resolution, Codecs: v.Codecs,
				AudioRenditions: audioRenditions(pl.master, v), AudioURL: audioURL})
			if err != nil {
				return err
			}
		}
		if pl, err = d.fetchPlaylist(ctx, mediaURL); err != nil {
			return err
		}
	}
	if pl.media == nil {
		return errs.Malformed("variant playlist %s is a master playlist", mediaURL)
	}
	it := &segmentIter{d: d, url: mediaURL}
	if err := it.load(pl.media); err != nil {
		return err
	}
	if audioURL != "" {
		// The rendition playlist is fetched with the same bounds as the
		// variant's. When it cannot be fetched, Run fails naming it rather
		// than playing the variant alone: a variant that leaves its audio
		// to renditions mostly has none of its own, and a room without
		// audio is a failure to report, not to hide.
		apl, err := d.fetchPlaylist(ctx, audioURL)
		if err != nil {
			return err
		}
		if apl.media == nil {
			return errs.Malformed("audio rendition playlist %s is a master playlist", audioURL)
		}
		ait := &segmentIter{d: d, url: audioURL}
		if err := ait.load(apl.media); err != nil {
			return err
		}
		return d.runWithRendition(ctx, it, ait)
	}
	for {
		seg, err := it.nextSegment(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if seg.mapURI != "" {
			err = d.playFMP4(ctx, it, seg)
		} else {
			err = d.playTS(ctx, it, seg)
		}
		if err != nil {
			return err
		}
	}
}

func (d *Demuxer) playTS(ctx context.Context, it *segmentIter, seg segment) error {
	u, err := it.resolve(seg.uri)
	if err != nil {
		return err
	}
	body, err := d.fetchAll(ctx, "segment", u, MaxSegmentSize)
	if err != nil {
		return err
	}
	d.stats.Segments++
	if len(body) > 0 && body[0] != 0x47 {
		return unsupported("segment %s is neither MPEG-TS nor announced fMP4 (EXT-X-MAP)", u)
	}
	if seg.disc && d.emitted {
		d.stats.Discontinuities++
		d.ts.Discontinuity()
	}
	d.inFMP4 = false
	if err := d.ts.Run(ctx, bytes.NewReader(body)); err != nil {
		return fmt.Errorf("segment %s: %w", u, err)
	}
	return nil
}

// onFrame passes a frame on, moving the frames of fMP4 groups after a
// discontinuity behind what was emitted, and tracks the end of the
// timeline.
func (d *Demuxer) onFrame(f *media.Frame) error {
	rate := f.Track.ClockRate
	if d.inFMP4 && d.offsetNs != 0 {
		off := media.MulDiv(d.offsetNs, int64(rate), int64(time.Second))
		f.DTS += off
		f.PTS += off
	}
	ns := int64(media.Duration(f.DTS, rate))
	id := f.Track.ID
	if last, ok := d.lastDTSNs[id]; ok && ns > last {
		d.deltaNs[id] = ns - last
	}
	d.lastDTSNs[id] = ns
	d.endNs = max(d.endNs, ns+d.deltaNs[id])
	d.emitted = true
	return d.OnFrame(f)
}

// playFMP4 plays the fMP4 segments from seg on that share its
// initialization section and have no discontinuity between them, through
// one demux/mp4 Demuxer. The initialization section is resolved and
// fetched once for them all.
func (d *Demuxer) playFMP4(ctx context.Context, it *segmentIter, seg segment) error {
	mapURL, err := it.resolve(seg.mapURI)
	if err != nil {
		return err
	}
	init, err := d.fetchAll(ctx, "initialization section", mapURL, MaxInitSize)
	if err != nil {
		return err
	}
	if d.emitted {
		if seg.disc {
			d.stats.Discontinuities++
		}
		// A new mp4 Demuxer starts its timeline at 0: continue after what
		// was emitted.
		d.offsetNs = d.endNs
	}
	d.inFMP4 = true
	cr := &chainReader{ctx: ctx, d: d, it: it, mapURI: seg.mapURI, cur: bytes.NewReader(init), next: &seg}
	md := &mp4.Demuxer{OnTrack: d.OnTrack, OnFrame: d.onFrame}
	if err := md.Initialize(); err != nil {
		return err
	}
	err = md.RunFragmented(ctx, cr)
	if cr.err != nil {
		return cr.err
	}
	if err != nil {
		first, uerr := it.resolve(seg.uri)
		if uerr != nil {
			first = shorten(seg.uri)
		}
		return fmt.Errorf("fMP4 segments from %s: %w", first, err)
	}
	return nil
}

// chainReader reads an initialization section and the fMP4 segments that
// follow it as one stream, fetching each segment when the previous one
// has been read. It ends before a segment with a discontinuity or another
// initialization section, which it gives back to the iterator.
type chainReader struct {
	ctx    context.Context
	d      *Demuxer
	it     *segmentIter
	mapURI string
	cur    *bytes.Reader
	next   *segment
	err    error
}

func (c *chainReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if n, _ := c.cur.Read(p); n > 0 {
			return n, nil
		}
		seg := c.next
		c.next = nil
		if seg == nil {
			s, err := c.it.nextSegment(c.ctx)
			if errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			if err != nil {
				c.err = err
				return 0, err
			}
			if s.disc || s.mapURI != c.mapURI {
				c.it.pushBack(s)
				return 0, io.EOF
			}
			seg = &s
		}
		u, err := c.it.resolve(seg.uri)
		if err != nil {
			c.err = err
			return 0, err
		}
		body, err := c.d.fetchAll(c.ctx, "segment", u, MaxSegmentSize)
		if err != nil {
			c.err = err
			return 0, err
		}
		c.d.stats.Segments++
		c.cur = bytes.NewReader(body)
	}
}

// fetchAll fetches a whole body of at most limit bytes, retrying.
func (d *Demuxer) fetchAll(ctx context.Context, what, url string, limit int64) ([]byte, error) {
	var body []byte
	err := d.retry(ctx, what, url, func() error {
		rc, err := d.Fetcher.Get(ctx, url)
		if err != nil {
			return err
		}
		defer rc.Close()
		body, err = io.ReadAll(io.LimitReader(rc, limit+1))
		if err != nil {
			return err
		}
		if int64(len(body)) > limit {
			return fmt.Errorf("larger than %d bytes", limit)
		}
		return nil
	})
	return body, err
}

func (d *Demuxer) fetchPlaylist(ctx context.Context, url string) (playlist, error) {
	body, err := d.fetchAll(ctx, "playlist", url, MaxPlaylistSize)
	if err != nil {
		return playlist{}, err
	}
	d.stats.PlaylistFetches++
	pl, err := parsePlaylist(bytes.NewReader(body))
	if err != nil {
		return pl, fmt.Errorf("playlist %s: %w", url, err)
	}
	return pl, nil
}

// retry runs fn up to 1+MaxRetries times, pausing RetryDelay, doubled
// after each failure, in between.
func (d *Demuxer) retry(ctx context.Context, what, url string, fn func() error) error {
	delay := d.RetryDelay
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if attempt >= d.MaxRetries {
			return &FetchError{What: what, URL: url, Err: err}
		}
		d.stats.Retries++
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay *= 2
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
