// Package rtsp pulls a live stream from an RTSP server (rtsp:// and
// rtsps:// URL inputs, beyond upstream) with gortsplib as the client:
// DESCRIBE, SETUP of the first supported video and audio media, PLAY,
// then RTP depacketized into media frames until the server ends the
// stream or the context is cancelled.
//
// Supported: H.264 and H.265 video (parameter sets from the SDP or in
// band), MPEG-4 audio (AAC, RFC 3640 "mpeg4-generic", and AAC in LATM,
// RFC 6416 "MP4A-LATM", its configuration in the SDP or in band), Opus,
// G.711 (PCMA, PCMU) and linear PCM (L8, L16, L24), as IP cameras send
// them. The
// transport is gortsplib's choice: UDP first, TCP (interleaved) when UDP
// is refused or nothing arrives within 3 s.
//
// Depacketizing, timestamps, loss and bounds: ingest/rtpdepack, shared
// with WHIP. The RTP timestamps of all tracks go on one clock that starts
// at 0 with the first packet (aligning the other tracks by arrival), in
// 90 kHz for video and the sample rate for audio — the units of
// media.Frame.
//
// Specification: RFC 2326 (RTSP 1.0), RFC 6184 (H.264 over RTP), RFC 7798
// (H.265), RFC 3640 and RFC 6416 (MPEG-4 audio), RFC 7587 (Opus), RFC
// 3551 (G.711, L8, L16), RFC 3190 (L24).
package rtsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/livekit/protocol/logger"
	"github.com/pion/rtp"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/ingest/rtpdepack"
	"github.com/tributary-ingress/tributary/media"
)

// ReadTimeout is how long the client waits for an answer or for media
// before giving up on the server.
const ReadTimeout = 10 * time.Second

// ErrNoSupportedMedia is returned when the server's stream has no track
// this input can play. It matches demux.ErrNoTracks.
var ErrNoSupportedMedia = demux.Reason("no supported media in the RTSP stream", demux.ErrNoTracks)

// Sink receives the tracks and frames of the stream. It is called from
// gortsplib's reader goroutines, one track at a time per media; it must
// not block for long (the stream is live).
type Sink interface {
	Track(t *media.Track) error
	Frame(f *media.Frame) error
}

// Config configures a pull.
type Config struct {
	// URL is rtsp:// or rtsps://, credentials in the user info if needed.
	URL  string
	Sink Sink
	// ReadTimeout overrides ReadTimeout when positive.
	ReadTimeout time.Duration
	// Transport forces "udp" or "tcp"; empty lets gortsplib choose.
	Transport string
	// Logger receives transport switches, and losses and decode errors at
	// most once a second. Optional.
	Logger logger.Logger
	// DialContext opens the RTSP connection (the first one and those of
	// redirects); ingest/url passes its address guard. Nil dials
	// directly.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// CheckPeer may refuse the address a server names in the source
	// parameter of its Transport header, where UDP packets (RTCP, NAT
	// punching) would go; it is checked before PLAY. Nil accepts it.
	CheckPeer func(ip netip.Addr) error
}

// Pull plays the stream at c.URL into c.Sink until the server ends it
// (nil), ctx ends (its cause), or an error (naming the cause: connection
// refused, a status like 404 Not Found, no supported media, a Sink error).
func Pull(ctx context.Context, c Config) error {
	u, err := base.ParseURL(c.URL)
	if err != nil {
		return fmt.Errorf("invalid RTSP URL: %w", err)
	}
	shown := redacted(c.URL)
	client := &gortsplib.Client{
		Scheme:      u.Scheme,
		Host:        u.Host,
		ReadTimeout: ReadTimeout,
	}
	if c.ReadTimeout > 0 {
		client.ReadTimeout = c.ReadTimeout
	}
	if c.DialContext != nil {
		client.DialContext = c.DialContext
	}
	if c.Logger == nil {
		c.Logger = logger.GetLogger()
	}
	// gortsplib logs these with the standard logger unless told otherwise.
	var lost lossReport
	client.OnTransportSwitch = func(err error) { c.Logger.Infow("RTSP transport switched", "reason", err.Error()) }
	client.OnPacketsLost = func(n uint64) { lost.add(c.Logger, n, nil) }
	client.OnDecodeError = func(err error) { lost.add(c.Logger, 0, err) }
	switch strings.ToLower(c.Transport) {
	case "":
	case "udp":
		t := gortsplib.TransportUDP
		client.Transport = &t
	case "tcp":
		t := gortsplib.TransportTCP
		client.Transport = &t
	default:
		return fmt.Errorf("RTSP transport %q: udp or tcp", c.Transport)
	}
	p := &puller{client: client, sink: c.Sink}
	if c.CheckPeer != nil {
		client.OnResponse = func(res *base.Response) { p.checkPeer(res, c.CheckPeer) }
	}
	if err := client.Start2(); err != nil {
		return fmt.Errorf("RTSP client: %w", err)
	}
	// Close unblocks every request and the readers; it is safe to call
	// more than once.
	stop := context.AfterFunc(ctx, client.Close)
	defer stop()
	defer client.Close()

	if err := p.start(u); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("RTSP %s: %w", shown, err)
	}
	err = client.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if serr := p.err(); serr != nil {
		return serr
	}
	if errors.Is(err, io.EOF) {
		return nil // the server closed the connection: the stream ended
	}
	return fmt.Errorf("RTSP %s: %w", shown, err)
}

// puller holds the state of one pull.
type puller struct {
	client *gortsplib.Client
	sink   Sink

	mu      sync.Mutex
	sinkErr error
	peerErr error
}

// checkPeer checks the source a SETUP response names for UDP; it runs on
// gortsplib's goroutine before Setup returns.
func (p *puller) checkPeer(res *base.Response, check func(netip.Addr) error) {
	v, ok := res.Header["Transport"]
	if !ok {
		return
	}
	var th headers.Transport
	if th.Unmarshal(v) != nil || th.Source == nil {
		return
	}
	var err error
	if a, ok := netip.AddrFromSlice(*th.Source); ok {
		err = check(a.Unmap())
	} else {
		err = fmt.Errorf("unreadable source address %v in the Transport header", *th.Source)
	}
	if err != nil {
		p.mu.Lock()
		if p.peerErr == nil {
			p.peerErr = err
		}
		p.mu.Unlock()
	}
}

func (p *puller) peerError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peerErr
}

// track is a media set up for playing, with the depacketizer of its
// format.
type track struct {
	medi  *description.Media
	forma format.Format
	dep   *rtpdepack.TrackDepacketizer
}

// start describes the stream, sets up the medias it can play and starts
// playing.
func (p *puller) start(u *base.URL) error {
	desc, _, err := p.client.Describe(u)
	if err != nil {
		return fmt.Errorf("DESCRIBE: %w", err)
	}
	// The tracks' timestamps go on one timeline, as gortsplib's
	// PacketPTS2 would put them.
	clock := rtpdepack.NewClock()
	var video, audio *track
	var seen []string
	for _, medi := range desc.Medias {
		for _, forma := range medi.Formats {
			seen = append(seen, forma.Codec())
			id := 2
			if medi.Type == description.MediaTypeVideo {
				id = 1
			}
			dep, err := rtpdepack.New(rtpdepack.Config{Format: forma, ID: id, Clock: clock})
			if err != nil {
				continue
			}
			t := &track{medi: medi, forma: forma, dep: dep}
			switch {
			case dep.Kind() == media.KindVideo && video == nil:
				video = t
			case dep.Kind() == media.KindAudio && audio == nil:
				audio = t
			default:
				continue
			}
			break
		}
	}
	if video == nil && audio == nil {
		return fmt.Errorf("%w: the server offers %s; H.264, H.265, AAC, Opus, G.711 and LPCM are supported",
			ErrNoSupportedMedia, strings.Join(seen, ", "))
	}
	for _, t := range []*track{video, audio} {
		if t == nil {
			continue
		}
		if _, err := p.client.Setup(desc.BaseURL, t.medi, 0, 0); err != nil {
			return fmt.Errorf("SETUP %s: %w", t.forma.Codec(), err)
		}
		if err := p.peerError(); err != nil {
			return fmt.Errorf("SETUP %s: %w", t.forma.Codec(), err)
		}
		p.client.OnPacketRTP(t.medi, t.forma, func(pkt *rtp.Packet) { p.packet(t, pkt) })
	}
	if _, err := p.client.Play(nil); err != nil {
		return fmt.Errorf("PLAY: %w", err)
	}
	return nil
}

// packet handles one RTP packet of a track, on the reader goroutine of its
// media.
func (p *puller) packet(t *track, pkt *rtp.Packet) {
	if p.err() != nil {
		return
	}
	if err := t.dep.Write(pkt, p.sink); err != nil {
		p.mu.Lock()
		if p.sinkErr == nil {
			p.sinkErr = err
		}
		p.mu.Unlock()
		p.client.Close()
	}
}

func (p *puller) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sinkErr
}

// lossReport aggregates packet losses and decode errors into at most one
// log line a second.
type lossReport struct {
	mu      sync.Mutex
	last    time.Time
	packets uint64
	errors  int
	lastErr error
}

func (r *lossReport) add(l logger.Logger, packets uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets += packets
	if err != nil {
		r.errors++
		r.lastErr = err
	}
	if now := time.Now(); now.Sub(r.last) >= time.Second {
		msg := ""
		if r.lastErr != nil {
			msg = r.lastErr.Error()
		}
		l.Infow("RTSP packets lost or undecodable", "lostPackets", r.packets, "decodeErrors", r.errors, "lastError", msg)
		r.last, r.packets, r.errors, r.lastErr = now, 0, 0, nil
	}
}

// redacted returns the URL without its password, for messages.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "URL"
	}
	return u.Redacted()
}
