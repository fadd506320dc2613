// Package server assembles a standalone Tributary: the store and session
// manager, the Twirp Ingress API, the health endpoint, and the inputs, with
// each input's publishes turned into sessions that publish into LiveKit.
// It is the composition root: the one place that sees every package.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/console"
	"github.com/tributary-ingress/tributary/ingest/rtmp"
	"github.com/tributary-ingress/tributary/internal/monitor"
	"github.com/tributary-ingress/tributary/room"
	"github.com/tributary-ingress/tributary/service"
	"github.com/tributary-ingress/tributary/session"
)

// Server is a running standalone Tributary.
type Server struct {
	Config *config.Config
	Logger logger.Logger

	store   *service.Store
	manager *service.Manager
	mon     *monitor.Monitor  // metrics (prometheus_port), admission, overload shedding
	hooks   *service.Webhooks // ingress_started/ingress_ended (webhook section); nil without URLs
	endpoints
	pulls pulls
}

// Initialize opens the store and starts every listener. On error, what was
// started is stopped again.
func (s *Server) Initialize() (err error) {
	c := s.Config
	if s.Logger == nil {
		s.Logger = logger.GetLogger()
	}
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()
	s.store, err = service.OpenStore(c.StorePath)
	if err != nil {
		return err
	}
	// Standalone admission charges the costs of the running sessions
	// against the machine's cores (standalone_admission), and the
	// overload controller sheds layers when they still do not keep up.
	s.mon, err = monitor.New(monitor.Config{
		Costs: costsOf(c.CPUCost), NodeID: nodeID(c), Logger: s.Logger.WithValues("component", "monitor"),
		Admission: c.Admission(), Committed: true,
	})
	if err != nil {
		return err
	}
	s.hooks, err = service.NewWebhooks(c.Webhook, c.APIKey, c.APISecret, nodeID(c), s.Logger.WithValues("component", "webhook"))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	mc := service.ManagerConfig{Store: s.store, RTMPBaseURL: c.RTMPBaseURL, WHIPBaseURL: c.WHIPBaseURL, EnableUDPURLPull: c.EnableUDPURLPull, Logger: s.Logger,
		Admission: s.mon}
	if s.hooks != nil {
		mc.OnStatusChange = s.hooks.StatusChanged
	}
	s.manager = service.NewManager(mc)
	// Sessions a killed or crashed run left "running" in the store end
	// now, before anything is served. A store that cannot be written (a
	// full disk) does not keep the server down: reads still work, and the
	// next start ends them.
	if _, ierr := s.manager.EndInterrupted(); ierr != nil {
		s.Logger.Warnw("could not end the sessions interrupted by the restart", ierr)
	}
	if err := s.pulls.init(c, s.Logger); err != nil {
		return err
	}
	s.manager.SetURLLauncher(s)
	api := service.NewAPI(s.manager, auth.NewSimpleKeyProvider(c.APIKey, c.APISecret))
	mux := http.NewServeMux()
	mux.Handle(api.PathPrefix(), api.Handler())
	web := &console.Console{APIKey: c.APIKey, APISecret: c.APISecret, WsURL: c.WsURL, SecureCookies: c.SecureCookies, Logger: s.Logger.WithValues("component", "console")}
	if err := web.Initialize(); err != nil {
		return err
	}
	mux.Handle("/", web)
	if err := s.serveHTTP("api_port", c.APIPort, mux); err != nil {
		return err
	}
	if err := s.serveOps(c, s.manager.HealthHandler(), s.mon.Handler()); err != nil {
		return err
	}
	if err := s.startInputs(c, s, s.Logger); err != nil {
		return err
	}
	s.Logger.Infow("tributary started",
		"apiPort", c.APIPort, "healthPort", c.HealthPort, "prometheusPort", c.PrometheusPort, "rtmpPort", c.RTMPPort, "whipPort", c.WHIPPort, "rtmpsPort", c.RTMPSPort, "srtPort", c.SRTPort,
		"store", c.StorePath, "rtmpBaseURL", c.RTMPBaseURL, "whipBaseURL", c.WHIPBaseURL, "wsURL", c.WsURL)
	return nil
}

// Close stops taking sessions, ends the running ones (waiting for them at
// most until ctx is done), and stops every listener.
func (s *Server) Close(ctx context.Context) {
	if s.manager != nil {
		if err := s.manager.Close(ctx); err != nil {
			s.Logger.Warnw("shutdown", err)
		}
	}
	s.closeInputs()
	s.pulls.close()
	s.hooks.Close(ctx) // the ingress_ended of the sessions just ended
	s.closeHTTP()
	if s.store != nil {
		_ = s.store.Close()
	}
	if s.mon != nil {
		s.mon.Close()
	}
}

// authError words a refused publish for the log and the encoder.
func authError(err error) error {
	if errors.Is(err, service.ErrNotFound) {
		return errors.New("stream key not found")
	}
	return err
}

// AuthorizeRTMP starts the session of an RTMP publish.
func (s *Server) AuthorizeRTMP(streamKey string, _ net.Addr) (rtmp.Publisher, error) {
	sess, err := s.manager.StartSession(streamKey, livekit.IngressInput_RTMP_INPUT)
	if err != nil {
		return nil, authError(err)
	}
	return s.startPush(sess), nil
}

// startPush starts the media side of a live push (RTMP, SRT).
func (s *Server) startPush(sess *service.Session) *session.Session {
	return session.Start(session.Config{
		Reporter:       sess,
		Transcoders:    s.transcoders(sess, false),
		Room:           s.roomConfig(),
		Live:           true,
		Stats:          trackSession(s.mon, sess),
		TranscodeDelay: s.Config.TranscodeDelay,
	})
}

// transcoders returns a session's transcoders: in process, or in a child
// process with isolate_transcoding: true.
func (s *Server) transcoders(sess *service.Session, blocking bool) session.Transcoders {
	return isolatedTranscoders(s.Config, sess, transcoderOpts{Blocking: blocking}, s.Logger)
}

func (s *Server) roomConfig() room.Config {
	return room.Config{URL: s.Config.WsURL, APIKey: s.Config.APIKey, APISecret: s.Config.APISecret}
}
