package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/internal/monitor"
	"github.com/tributary-ingress/tributary/room"
	"github.com/tributary-ingress/tributary/service"
	"github.com/tributary-ingress/tributary/session"
	"github.com/tributary-ingress/tributary/session/forward"
)

// startWHIPServer starts a WHIP endpoint on whip_port with the ICE
// settings of rtc_config, authorizing publishes with auth; it also serves
// health's answers at /health and /availability. remote (cluster mode)
// takes the DELETE and PATCH requests for resources other workers hold.
func startWHIPServer(c *config.Config, auth whip.Authorizer, health http.Handler, remote whip.Remote, log logger.Logger) (*whip.Server, error) {
	w := &whip.Server{
		Address:    fmt.Sprintf(":%d", c.WHIPPort),
		Authorizer: auth,
		ICE:        whipICE(c),
		Logger:     log.WithValues("input", "whip"),
		Health:     health,
		Remote:     remote,
	}
	if err := w.Initialize(); err != nil {
		return nil, fmt.Errorf("whip_port %d: %w", c.WHIPPort, err)
	}
	return w, nil
}

// AuthorizeWHIP starts the session of a WHIP publish: passthrough by
// default, transcoding when the ingress enables it.
func (s *Server) AuthorizeWHIP(streamKey string, remote string) (whip.Publisher, error) {
	sess, err := s.manager.StartSession(streamKey, livekit.IngressInput_WHIP_INPUT)
	switch {
	case err == nil:
	case errors.Is(err, service.ErrNotFound):
		return nil, whip.ErrStreamKeyNotFound
	case errors.Is(err, service.ErrDisabled), errors.Is(err, service.ErrWrongInput):
		return nil, fmt.Errorf("%w: %w", whip.ErrForbidden, err)
	case errors.Is(err, service.ErrShutdown), errors.Is(err, monitor.ErrNoCapacity):
		return nil, fmt.Errorf("%w: %w", whip.ErrUnavailable, err)
	default:
		return nil, err
	}
	sess.Logger().Infow("WHIP publish", "remote", remote, "transcoding", sess.Info().GetEnableTranscoding())
	return whipPublisher(sess, s.roomConfig(), s.transcoders(sess, false), trackSession(s.mon, sess), s.Config.TranscodeDelay), nil
}

// whipPublisher starts the media side of a WHIP session reporting to r:
// transcoding when the ingress enables it (with tc), passthrough
// otherwise.
func whipPublisher(r session.Reporter, rc room.Config, tc session.Transcoders, stats *session.Stats, delay time.Duration) whip.Publisher {
	if r.Info().GetEnableTranscoding() {
		fs := session.Start(session.Config{
			Reporter:       r,
			Transcoders:    tc,
			Room:           rc,
			Live:           true,
			Stats:          stats,
			TranscodeDelay: delay,
		})
		return &whip.Depacketizer{ID: r.ResourceID(), Publisher: fs, Logger: r.Logger()}
	}
	// A forwarding session decodes nothing but G.711 audio, which it
	// transcodes to Opus (the Forwarder is then a whip.AudioTranscoder):
	// that runs in process, isolation or not. A G.711 decoder cannot fail
	// on any input (every byte is a sample), and the Opus encoder gets
	// only PCM, so a child process would buy no safety against hostile
	// input, and would cost a process and a pipe hop per WHIP session.
	return &whipForward{Forwarder: forward.Start(session.Config{Reporter: r, Room: rc, Stats: stats, Transcoders: transcoders{}}),
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

func (f *whipForward) Start(n whip.Negotiated) error {
	m := forward.Media{RequestKeyframe: n.RequestKeyframe, AudioLevelExtID: n.AudioLevelExtID}
	if n.Video != nil {
		m.Video = &forward.Video{Codec: n.Video.RTPCodecCapability, Layers: n.VideoLayers()}
	}
	if n.Audio != nil {
		a := n.Audio.RTPCodecCapability
		m.Audio = &a
	}
	return f.Configure(m)
}
