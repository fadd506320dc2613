package server

import (
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"

	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/service"
	"github.com/tributary-ingress/tributary/session"
	"github.com/tributary-ingress/tributary/session/forward"
)

// defaultSTUN is asked for the external address when rtc_config sets
// use_external_ip without stun_servers, as LiveKit does.
var defaultSTUN = []string{"stun.l.google.com:19302", "stun1.l.google.com:19302"}

// startWHIP starts the WHIP endpoint on whip_port.
func (s *Server) startWHIP() error {
	c := s.Config
	rc := c.RTCConfig
	ice := whip.ICEConfig{
		TCPPort:         int(rc.TCPPort),
		STUNServers:     rc.STUNServers,
		IncludeLoopback: rc.EnableLoopbackCandidate,
		IPs:             rc.IPs.Includes,
		ForceTCP:        rc.ForceTCP,
	}
	switch {
	case rc.UDPPort.Start > 0 && rc.UDPPort.End == 0:
		ice.UDPPort = rc.UDPPort.Start
	case rc.UDPPort.Start > 0:
		ice.UDPPortMin, ice.UDPPortMax = rc.UDPPort.Start, rc.UDPPort.End
	case rc.ICEPortRangeStart > 0:
		ice.UDPPortMin, ice.UDPPortMax = int(rc.ICEPortRangeStart), int(rc.ICEPortRangeEnd)
	}
	if rc.NodeIP != "" {
		ice.NodeIPs = []string{rc.NodeIP}
	}
	if rc.UseExternalIP && len(ice.STUNServers) == 0 {
		ice.STUNServers = defaultSTUN
	}
	w := &whip.Server{
		Address:    fmt.Sprintf(":%d", c.WHIPPort),
		Authorizer: s,
		ICE:        ice,
		Logger:     s.Logger.WithValues("input", "whip"),
	}
	if err := w.Initialize(); err != nil {
		return fmt.Errorf("whip_port %d: %w", c.WHIPPort, err)
	}
	s.whip = w
	return nil
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
	case errors.Is(err, service.ErrShutdown):
		return nil, fmt.Errorf("%w: %w", whip.ErrUnavailable, err)
	default:
		return nil, err
	}
	sess.Logger().Infow("WHIP publish", "remote", remote, "transcoding", sess.Info().GetEnableTranscoding())
	if sess.Info().GetEnableTranscoding() {
		fs := session.Start(session.Config{
			Reporter:    sess,
			Transcoders: transcoders{},
			Room:        s.roomConfig(),
			Live:        true,
		})
		return &whip.Depacketizer{ID: sess.ResourceID(), Publisher: fs, Logger: sess.Logger()}, nil
	}
	return &whipForward{Session: forward.Start(forward.Config{Reporter: sess, Room: s.roomConfig()}), id: sess.ResourceID()}, nil
}

// whipForward adapts a passthrough session to the WHIP input.
type whipForward struct {
	*forward.Session
	id string
}

func (f *whipForward) ResourceID() string { return f.id }

func (f *whipForward) Start(n whip.Negotiated) error {
	m := forward.Media{RequestKeyframe: n.RequestKeyframe}
	if n.Video != nil {
		m.Video = &forward.Video{Codec: n.Video.RTPCodecCapability, Layers: n.VideoLayers()}
	}
	if n.Audio != nil {
		a := n.Audio.RTPCodecCapability
		m.Audio = &a
	}
	return f.Configure(m)
}
