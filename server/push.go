package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/ingest/rtmp"
	"github.com/tributary-ingress/tributary/ingest/srt"
	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/ingress"
	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/internal/monitor"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/pipeline/forward"
)

// AuthorizeRTMP authorizes an RTMP publish and starts its session.
func (n *Node) AuthorizeRTMP(streamKey string, _ net.Addr) (rtmp.Publisher, error) {
	r, err := n.authorize(streamKey, livekit.IngressInput_RTMP_INPUT)
	if err != nil {
		return nil, err
	}
	return n.startPush(r), nil
}

// AuthorizeSRT authorizes an SRT push and starts its session. The Ingress
// API has no SRT input type, so an SRT push publishes to an RTMP ingress
// with its stream key as streamid: the same ingress takes either protocol.
func (n *Node) AuthorizeSRT(streamKey string, _ net.Addr) (srt.Publisher, error) {
	r, err := n.authorize(streamKey, livekit.IngressInput_RTMP_INPUT)
	if err != nil {
		return nil, err
	}
	return srtPublisher{ps: n.startPush(r), log: r.Logger()}, nil
}

// startPush starts the media side of a live push (RTMP, SRT).
func (n *Node) startPush(r ingressRun) *pipeline.Session {
	return pipeline.Start(pipeline.Config{
		Reporter:       r,
		Transcoders:    n.transcoders(r, transcoderOpts{}),
		Room:           n.roomConfig(),
		Live:           true,
		Stats:          n.track(r),
		TranscodeDelay: n.Config.TranscodeDelay,
	})
}

// AuthorizeWHIP authorizes a WHIP publish and starts its session:
// passthrough by default, transcoding when the ingress enables it, or
// proxied to livekit-server where the authority runs it so.
func (n *Node) AuthorizeWHIP(streamKey string, remote string) (whip.Publisher, error) {
	r, err := n.auth.authorize(streamKey, livekit.IngressInput_WHIP_INPUT)
	switch {
	case err == nil:
	case errors.Is(err, ingress.ErrNotFound):
		return nil, whip.ErrStreamKeyNotFound
	case errors.Is(err, ingress.ErrDisabled), errors.Is(err, ingress.ErrWrongInput):
		return nil, fmt.Errorf("%w: %w", whip.ErrForbidden, err)
	case errors.Is(err, ingress.ErrShutdown), errors.Is(err, monitor.ErrNoCapacity):
		return nil, fmt.Errorf("%w: %w", whip.ErrUnavailable, err)
	default:
		return nil, err
	}
	proxy := n.auth.whip(n, r, streamKey)
	r.Logger().Infow("WHIP publish", "remote", remote, "transcoding", r.Info().GetEnableTranscoding(), "proxied", proxy != nil)
	if proxy != nil {
		return proxy, nil
	}
	return n.whipPublisher(r), nil
}

// whipPublisher starts the media side of a WHIP session reporting to r:
// transcoding when the ingress enables it, passthrough otherwise.
func (n *Node) whipPublisher(r ingressRun) whip.Publisher {
	rc, stats := n.roomConfig(), n.track(r)
	if r.Info().GetEnableTranscoding() {
		fs := pipeline.Start(pipeline.Config{
			Reporter:       r,
			Transcoders:    n.transcoders(r, transcoderOpts{}),
			Room:           rc,
			Live:           true,
			Stats:          stats,
			TranscodeDelay: n.Config.TranscodeDelay,
		})
		return &whip.Depacketizer{ID: r.ResourceID(), Publisher: fs, Logger: r.Logger()}
	}
	// A forwarding session decodes nothing but G.711 audio, which it
	// transcodes to Opus (the Forwarder is then a whip.AudioTranscodingPublisher):
	// that runs in process, isolation or not. A G.711 decoder cannot fail
	// on any input (every byte is a sample), and the Opus encoder gets
	// only PCM, so a child process would buy no safety against hostile
	// input, and would cost a process and a pipe hop per WHIP session.
	return &whipForward{Forwarder: forward.Start(pipeline.Config{Reporter: r, Room: rc, Stats: stats, Transcoders: inProcess{}}),
		id: r.ResourceID(), log: r.Logger()}
}

// whipForward adapts a passthrough session to the WHIP input.
type whipForward struct {
	*forward.Forwarder
	id  string
	log logger.Logger
}

func (f *whipForward) ResourceID() string { return f.id }

// SessionLogger makes the WHIP lines of the session carry its fields.
func (f *whipForward) SessionLogger() logger.Logger { return f.log }

func (f *whipForward) Start(neg whip.Negotiated) error {
	m := forward.Media{RequestKeyframe: neg.RequestKeyframe, AudioLevelExtID: neg.AudioLevelExtID}
	if neg.Video != nil {
		m.Video = &forward.NegotiatedVideo{Codec: neg.Video.RTPCodecCapability, Layers: neg.VideoLayers()}
	}
	if neg.Audio != nil {
		a := neg.Audio.RTPCodecCapability
		m.Audio = &a
	}
	return f.Configure(m)
}

// srtPublisher runs an SRT push: MPEG-TS demuxed into a live session.
type srtPublisher struct {
	ps  *pipeline.Session
	log logger.Logger
}

// Serve demuxes the pushed MPEG-TS into the session until either ends.
func (p srtPublisher) Serve(r io.Reader) error {
	d := &ts.Demuxer{OnTrack: p.ps.Track, OnFrame: p.ps.Frame, SkipUnsupported: true,
		OnSCTE35: func(sp ts.SpliceInsert) error { return p.ps.Splice(fromTS(sp)) }}
	if err := d.Initialize(); err != nil {
		p.ps.Close(err)
		p.ps.Wait()
		return err
	}
	errc := make(chan error, 1)
	go func() {
		errc <- guard.Call(p.log, "MPEG-TS demuxer", func() error { return d.Run(context.Background(), r) })
	}()
	var err error
	select {
	case err = <-errc:
	case <-p.ps.Done():
		// The session ended (API, newer publisher): closing the listener
		// side is up to the caller; stop reading.
		if c, ok := r.(io.Closer); ok {
			_ = c.Close()
		}
		err = <-errc
	}
	p.ps.Close(err)
	p.ps.Wait()
	if err != nil {
		return fmt.Errorf("SRT push: %w", err)
	}
	return nil
}
