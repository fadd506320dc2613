package server

import (
	"sync"
	"time"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/demux/hls"
	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/ingest/url"
	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/pipeline"
)

// pulls runs URL ingresses, and joins their goroutines.
type pulls struct {
	client *url.Client
	wg     sync.WaitGroup
}

// init builds the client every URL pull of the process shares: the
// address guard of deny_private_urls, the spool budget of
// url_spool_budget, and the removal of spool files left by processes that
// are gone.
func (p *pulls) init(c *config.Config, log logger.Logger) error {
	p.client = &url.Client{
		AllowPrivate: !c.DenyPrivate(),
		SpoolBudget:  c.URLSpoolBudget,
		Logger:       log.WithValues("component", "url"),
	}
	if err := p.client.Initialize(); err != nil {
		return err
	}
	if !c.DenyPrivate() {
		log.Infow("deny_private_urls is off: URL ingresses may reach loopback, private and link-local addresses")
	}
	return nil
}

// close waits for the pulls to end and closes the client's idle
// connections.
func (p *pulls) close() {
	p.wg.Wait()
	if p.client != nil {
		p.client.Close()
	}
}

// urlNoMediaTimeout is the no-media watchdog of URL sessions: longer than
// the pull's own deadlines (url.IdleTimeout, 15 s, for http(s); 10 s for
// srt and rtsp), so that a stalled origin ends the session with the pull's
// precise reason ("the origin sent nothing for 15 s") rather than the
// session's generic one; it still ends a source that sends bytes but no
// frames.
const urlNoMediaTimeout = url.IdleTimeout + 5*time.Second

// launchURL starts the session of a URL ingress (either authority's):
// it pulls the media and plays it into the room in real time, ending
// COMPLETE at the end of the media or ERROR with the reason.
func (n *Node) launchURL(r ingressRun) {
	info := r.Info()
	live := url.Live(info.Url)
	ps := pipeline.Start(pipeline.Config{
		Reporter:       r,
		Transcoders:    n.transcoders(r, transcoderOpts{Blocking: !live}),
		Room:           n.roomConfig(),
		Live:           live,
		NoMediaTimeout: urlNoMediaTimeout,
		Stats:          n.track(r),
		TranscodeDelay: n.Config.TranscodeDelay,
	})
	n.pulls.wg.Add(1)
	go func() {
		defer n.pulls.wg.Done()
		err := guard.Call(r.Logger(), "URL input", func() error {
			return url.Pull(r.Context(), url.Config{
				URL: info.Url, Client: n.pulls.client, Sink: ps,
				OnSplice:     func(sp ts.SpliceInsert) error { return ps.Splice(fromTS(sp)) },
				OnFormat:     func(f url.Format) { r.Logger().Infow("pulling", "format", string(f)) },
				OnHLSVariant: logHLSVariant(r.Logger()),
			})
		})
		ps.Close(err)
		ps.Wait()
	}()
}

// logHLSVariant logs the variant an HLS pull plays, and the audio
// rendition played with it when its audio has a playlist of its own.
func logHLSVariant(log logger.Logger) func(hls.Variant) {
	return func(v hls.Variant) {
		log.Infow("HLS variant", "url", url.Redact(v.URL), "bandwidth", v.Bandwidth, "resolution", v.Resolution, "codecs", v.Codecs)
		if v.AudioURL != "" {
			log.Infow("HLS audio rendition", "url", url.Redact(v.AudioURL), "renditions", v.AudioRenditions)
		}
	}
}

func fromTS(sp ts.SpliceInsert) pipeline.Splice {
	return pipeline.Splice{EventID: sp.EventID, Cancel: sp.Cancel, OutOfNetwork: sp.OutOfNetwork, Immediate: sp.Immediate, PTS: sp.PTS}
}
