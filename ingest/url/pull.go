package url

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/tributary-ingress/tributary/demux/flv"
	"github.com/tributary-ingress/tributary/demux/hls"
	"github.com/tributary-ingress/tributary/demux/mkv"
	"github.com/tributary-ingress/tributary/demux/mp3"
	"github.com/tributary-ingress/tributary/demux/mp4"
	"github.com/tributary-ingress/tributary/demux/ogg"
	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/demux/wav"
	"github.com/tributary-ingress/tributary/ingest/rtsp"
	"github.com/tributary-ingress/tributary/ingest/srt"
	"github.com/tributary-ingress/tributary/media"
)

// Sink receives what a pull demuxes. Frame may block: the pull then reads
// no faster than the sink plays.
type Sink interface {
	Track(t *media.Track) error
	Frame(f *media.Frame) error
}

// Config configures a pull.
type Config struct {
	// URL is http(s)://, srt://, rtsp(s):// or udp://.
	URL string
	// Client connects the pull; nil means a Client with its defaults
	// (address guard on).
	Client *Client
	Sink   Sink
	// OnSplice receives SCTE-35 splice_insert commands (TS inputs:
	// HTTP, HLS with TS segments, SRT). Optional.
	OnSplice func(ts.SpliceInsert) error
	// OnFormat is told the recognized container. Optional.
	OnFormat func(Format)
	// OnHLSVariant is told the variant an HLS master playlist led to.
	// Optional.
	OnHLSVariant func(hls.Variant)
}

// ErrUnsupportedScheme is returned for URL schemes without an input.
var ErrUnsupportedScheme = errors.New("unsupported URL scheme")

// Live reports whether a URL is a live source that pushes in real time (its
// frames must not be held back), as opposed to a file or a playlist read
// at the pace of playback.
func Live(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "srt" || u.Scheme == "rtsp" || u.Scheme == "rtsps" || u.Scheme == "udp")
}

// Pull reads the media at c.URL to its end (nil), or until ctx ends or an
// error. Errors say what was wrong: HTTP status, not a media file,
// unsupported codec, truncated file, a refused address, a stalled origin;
// the URLs in them are redacted.
func Pull(ctx context.Context, c Config) error {
	return redactError(pull(ctx, c))
}

func pull(ctx context.Context, c Config) error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return errors.New("invalid URL")
	}
	if c.Client == nil {
		c.Client = defaultClient()
	}
	g := c.Client.guard
	switch u.Scheme {
	case "http", "https":
		return pullHTTP(ctx, c)
	case "srt":
		conn, err := srt.Dial(ctx, srt.DialConfig{URL: c.URL, Resolve: func(ctx context.Context, hostport string) (string, error) {
			ap, err := g.resolveAddr(ctx, hostport)
			return ap.String(), err
		}})
		if err != nil {
			return err
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		c.format(FormatTS)
		err = runTS(ctx, c, conn)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	case "udp":
		return pullUDP(ctx, c, u.Hostname(), u.Port(), u.Query().Get("interface"))
	case "rtsp", "rtsps":
		c.format(FormatRTSP)
		return rtsp.Pull(ctx, rtsp.Config{URL: c.URL, Sink: c.Sink, DialContext: g.DialContext, CheckPeer: g.checkPeer})
	}
	return fmt.Errorf("%w %q (http, https, srt, rtsp, rtsps and udp are supported)", ErrUnsupportedScheme, u.Scheme)
}

func (c Config) format(f Format) {
	if c.OnFormat != nil {
		c.OnFormat(f)
	}
}

func pullHTTP(ctx context.Context, c Config) error {
	rr, ranged, err := NewRangeReader(ctx, c.Client, c.URL)
	if err != nil {
		return err
	}
	if ranged {
		probe := make([]byte, min(int64(ProbeSize), rr.Size()))
		if _, err := rr.ReadAt(probe, 0); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		f := Sniff(probe, "", c.URL)
		if f == FormatMP4 {
			c.format(f)
			return newMP4(c).Run(ctx, rr, rr.Size())
		}
		if f != FormatUnknown && f != FormatHLS {
			c.format(f)
			return runStream(ctx, c, f, io.NewSectionReader(rr, 0, rr.Size()))
		}
	}
	// No ranges, a playlist, or unrecognized: stream the body.
	resp, err := c.Client.get(ctx, c.URL, 0, -1)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	probe, perr := br.Peek(ProbeSize)
	f := Sniff(probe, resp.Header.Get("Content-Type"), c.URL)
	if f == FormatUnknown {
		if perr != nil && !errors.Is(perr, io.EOF) {
			return fmt.Errorf("reading %s: %w", redact(c.URL), perr)
		}
		return fmt.Errorf("%w: %s (%s)", ErrNotMedia, redact(c.URL), describeBody(resp))
	}
	c.format(f)
	if f == FormatMP4 {
		return pullMP4Stream(ctx, c, br)
	}
	err = runStream(ctx, c, f, br)
	var fe *hls.FetchError // names the playlist or segment it read
	if errors.Is(err, ErrStalled) && !errors.As(err, &fe) {
		return fmt.Errorf("reading %s: %w", redact(c.URL), err)
	}
	return err
}

// pullMP4Stream plays an MP4 from a server without ranges: fragmented
// files stream; others are spooled to a temporary file first (the index
// may be at the end).
func pullMP4Stream(ctx context.Context, c Config, br *bufio.Reader) error {
	head, _ := br.Peek(ProbeSize)
	if isFragmented(head) {
		return newMP4(c).RunFragmented(ctx, br)
	}
	f, err := c.Client.spool.create()
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := f.fill(br, MaxSpoolSize)
	switch {
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("%s is larger than %d bytes and its server does not support range requests", redact(c.URL), int64(MaxSpoolSize))
	case errors.Is(err, ErrSpoolFull):
		return fmt.Errorf("%s cannot be spooled (its server does not support range requests, so the MP4 is copied to disk before it plays): %w", redact(c.URL), err)
	case err != nil:
		return fmt.Errorf("downloading %s: %w", redact(c.URL), err)
	}
	return newMP4(c).Run(ctx, f.File, n)
}

// isFragmented tells a fragmented MP4 (moov with mvex, or styp/moof first).
func isFragmented(b []byte) bool {
	for i := 0; i+8 <= len(b); i++ {
		switch string(b[i : i+4]) {
		case "mvex", "moof", "styp":
			return true
		}
	}
	return false
}

func newMP4(c Config) *mp4.Demuxer {
	d := &mp4.Demuxer{OnTrack: c.Sink.Track, OnFrame: c.Sink.Frame}
	_ = d.Initialize() // cannot fail: both callbacks are set
	return d
}

func runStream(ctx context.Context, c Config, f Format, r io.Reader) error {
	switch f {
	case FormatMKV:
		d := &mkv.Demuxer{OnTrack: c.Sink.Track, OnFrame: c.Sink.Frame}
		if err := d.Initialize(); err != nil {
			return err
		}
		return d.Run(ctx, r)
	case FormatOgg:
		d := &ogg.Demuxer{OnTrack: c.Sink.Track, OnFrame: c.Sink.Frame}
		if err := d.Initialize(); err != nil {
			return err
		}
		return d.Run(ctx, r)
	case FormatMP3:
		d := &mp3.Demuxer{OnTrack: c.Sink.Track, OnFrame: c.Sink.Frame}
		if err := d.Initialize(); err != nil {
			return err
		}
		return d.Run(ctx, r)
	case FormatWAV:
		d := &wav.Demuxer{OnTrack: c.Sink.Track, OnFrame: c.Sink.Frame}
		if err := d.Initialize(); err != nil {
			return err
		}
		return d.Run(ctx, r)
	case FormatTS:
		return runTS(ctx, c, r)
	case FormatFLV:
		d := &flv.Demuxer{OnTrack: c.Sink.Track, OnFrame: c.Sink.Frame}
		rd := &flv.Reader{R: r, Demuxer: d}
		if err := rd.Initialize(); err != nil {
			return err
		}
		for {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			if err := rd.ReadTag(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	case FormatHLS:
		d := &hls.Demuxer{URL: c.URL, Fetcher: fetcher{c.Client}, RetryDelay: c.Client.hlsRetryDelay, OnTrack: c.Sink.Track, OnFrame: c.Sink.Frame, OnSCTE35: c.OnSplice,
			OnVariant: func(v hls.Variant) error {
				if c.OnHLSVariant != nil {
					c.OnHLSVariant(v)
				}
				return nil
			}}
		if err := d.Initialize(); err != nil {
			return err
		}
		return d.Run(ctx, r)
	}
	return fmt.Errorf("%w: %s", ErrNotMedia, f)
}

func runTS(ctx context.Context, c Config, r io.Reader) error {
	d := &ts.Demuxer{OnTrack: c.Sink.Track, OnFrame: c.Sink.Frame, OnSCTE35: c.OnSplice, SkipUnsupported: true}
	if err := d.Initialize(); err != nil {
		return err
	}
	return d.Run(ctx, r)
}

// fetcher serves the HLS demuxer's fetches (playlists, segments) with the
// pull's client: the same address guard and idle deadline.
type fetcher struct{ c *Client }

func (f fetcher) Get(ctx context.Context, u string) (io.ReadCloser, error) {
	resp, err := f.c.do(ctx, u, 0, -1)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return nil, &hls.StatusError{Code: resp.StatusCode}
	}
	return resp.Body, nil
}
