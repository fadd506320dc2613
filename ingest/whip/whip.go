// Package whip is the WHIP input (RFC 9725, WebRTC-HTTP Ingestion
// Protocol): an HTTP endpoint that takes a client's SDP offer, answers it
// with a pion/webrtc peer connection, and hands the RTP packets it then
// receives to a Publisher. It knows nothing of the pipeline behind the
// Publisher: a passthrough forwarder or a depacketizer feeding a
// transcoding session (see Depacketizer).
//
// HTTP contract (app is any first path element, e.g. "w"):
//
//	POST   /<app>/<stream_key>            offer (application/sdp) → 201 answer,
//	POST   /<app>  + Bearer <stream_key>     Location, ETag, Accept-Patch
//	PATCH  /<app>/<stream_key>/<resource> trickle (application/trickle-ice-sdpfrag) → 204;
//	                                      with If-Match: * an ICE restart → 200 + fragment
//	DELETE /<app>/<stream_key>/<resource> ends the session → 200
//	                                      (PATCH and DELETE for a resource another
//	                                      server holds go to it through Remote)
//	OPTIONS any path                      CORS preflight → 204
//	GET    /health                        200
//
// Errors are plain text (JSON {"error": …} when the client accepts JSON)
// and say what is wrong: 404 "stream key not found", 403 for a disabled
// ingress, 400 naming the unsupported codec of an offer, 412 for a wrong
// If-Match, 415 for a wrong Content-Type.
package whip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/tributary-ingress/tributary/internal/netlimit"
)

// Limits on what a client may make the server hold.
const (
	// MaxBodySize bounds an offer or an ICE fragment: browser offers with
	// every codec and extension stay under 16 KiB.
	MaxBodySize = 256 << 10
	// MaxConns and MaxConnsPerIP bound the open connections of the WHIP
	// port, in all and from one address; over them a new connection is
	// closed at once.
	MaxConns      = 1024
	MaxConnsPerIP = 64
	// ReadHeaderTimeout bounds the headers of a request.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds a whole request.
	ReadTimeout = 30 * time.Second
	// GatherTimeout bounds ICE candidate gathering for an answer (STUN
	// servers may be slow to answer).
	GatherTimeout = 10 * time.Second
	// DefaultMaxSessions bounds simultaneous WHIP sessions.
	DefaultMaxSessions = 256
)

// Errors an Authorizer returns to choose the HTTP status; wrap them to add
// the reason.
var (
	// ErrStreamKeyNotFound: no ingress has this stream key (404).
	ErrStreamKeyNotFound = errors.New("stream key not found")
	// ErrForbidden: the ingress refuses this publish (403), e.g. disabled.
	ErrForbidden = errors.New("publishing refused")
	// ErrUnavailable: the server cannot take a session now (503).
	ErrUnavailable = errors.New("unavailable")
)

// Negotiated is what a client's offer and the answer agreed on.
type Negotiated struct {
	// Video is the video codec, nil without video.
	Video *webrtc.RTPCodecParameters
	// VideoRIDs are the simulcast RIDs in offer order (layer 0 first);
	// empty when the video is not simulcast (one layer).
	VideoRIDs []string
	// Audio is the audio codec (Opus, or G.711 for an AudioTranscodingPublisher),
	// nil without audio.
	Audio *webrtc.RTPCodecParameters
	// AudioLevelExtID is the ID of the client's audio-level header
	// extension (RFC 6464) in the audio packets, 0 when not negotiated.
	AudioLevelExtID uint8
	// RequestKeyframe sends a PLI to the client for a video layer. It does
	// not block.
	RequestKeyframe func(layer int)
}

// VideoLayers returns the number of video layers (1 without simulcast).
func (n Negotiated) VideoLayers() int { return max(len(n.VideoRIDs), 1) }

// Publisher receives the media of one WHIP session.
type Publisher interface {
	// ResourceID names the session; it ends the Location URL.
	ResourceID() string
	// Start is called once the offer is answered, before any packet.
	Start(n Negotiated) error
	// WriteVideoRTP and WriteAudioRTP hand over each received packet, from
	// the goroutine reading its stream (one per layer). The Publisher owns
	// the packet.
	WriteVideoRTP(layer int, p *rtp.Packet)
	WriteAudioRTP(p *rtp.Packet)
	// Close is called once when the session ends: err nil when the client
	// deleted the resource or closed the connection, else why it failed.
	Close(err error)
	// Done is closed when the session behind the Publisher ends on its
	// own (ingress updated or deleted, a newer publisher); the peer
	// connection is then closed.
	Done() <-chan struct{}
}

// SenderReported is implemented by a Publisher that uses the client's
// RTCP sender reports: each maps a stream's RTP timestamps to the
// client's NTP clock, the same for all its streams (its lip sync).
// SenderReport is called from the goroutine reading the stream's RTCP;
// layer is the video layer, 0 for audio.
type SenderReported interface {
	SenderReport(video bool, layer int, ntpTime uint64, rtpTime uint32)
}

// Logged is implemented by a Publisher whose session has a logger of its
// own (with the ingress, room and participant): the WHIP lines of the
// session, and pion's, are then logged with it.
type Logged interface {
	SessionLogger() logger.Logger
}

// sessionLogger is the logger of pub's session: its own when it has one,
// else the server's with the resource ID.
func sessionLogger(server logger.Logger, pub Publisher) logger.Logger {
	if l, ok := pub.(Logged); ok {
		if log := l.SessionLogger(); log != nil {
			return log.WithValues("input", "whip")
		}
	}
	return server.WithValues("resourceID", pub.ResourceID())
}

// AudioTranscodingPublisher is implemented by a Publisher that can transcode the
// audio to Opus (the Depacketizer feeding a transcoding session, and a
// forwarding session, which transcodes G.711 audio only): when
// TranscodesAudio is true G.711 (PCMA, PCMU) is negotiated too, as the
// official worker does, though Opus is preferred when offered; otherwise
// (the passthrough build) the Publisher takes Opus only.
type AudioTranscodingPublisher interface {
	TranscodesAudio() bool
}

// Authorizer starts the session of a publish on a stream key, or refuses
// it with an error wrapping ErrStreamKeyNotFound, ErrForbidden or
// ErrUnavailable and saying why.
type Authorizer interface {
	AuthorizeWHIP(streamKey string, remote string) (Publisher, error)
}

// Server is the WHIP HTTP endpoint.
type Server struct {
	// Address to listen on, e.g. ":8080".
	Address string
	// Authorizer authorizes publishes. Required.
	Authorizer Authorizer
	ICE        ICEConfig
	// MaxSessions defaults to DefaultMaxSessions.
	MaxSessions int
	Logger      logger.Logger
	// Health answers GET / and /availability as on health_port; the
	// endpoint serves it at /health and /availability, as the official
	// worker's WHIP server does. Without it /health answers 200 and
	// /availability is not served.
	Health http.Handler
	// Remote, when set, takes the DELETE and PATCH requests for resources
	// this server does not hold (cluster mode); without it they answer
	// 404.
	Remote Remote

	settings   webrtc.SettingEngine // what every session's API starts from
	iceServers []webrtc.ICEServer
	ln         net.Listener
	http       *http.Server
	serve      chan error
	udpMux     ice.UDPMux
	tcpMux     ice.TCPMux

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	conns  map[string]*conn // by resource ID
	wg     sync.WaitGroup
}

// Initialize binds the listeners and starts serving.
func (s *Server) Initialize() (err error) {
	if s.Authorizer == nil {
		return errors.New("whip: no Authorizer")
	}
	if s.MaxSessions == 0 {
		s.MaxSessions = DefaultMaxSessions
	}
	if s.Logger == nil {
		s.Logger = logger.GetLogger()
	}
	defer func() {
		if err != nil {
			s.closeMuxes()
		}
	}()
	if err := s.buildTransport(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Address)
	if err != nil {
		return err
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.conns = map[string]*conn{}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	s.serve = make(chan error, 1)
	// Connection bounds as on the other HTTP ports: a client (or a
	// slowloris) cannot hold every socket of the port.
	limited := netlimit.Wrap(ln, MaxConns, MaxConnsPerIP, func(remote net.Addr, why string) {
		s.Logger.Warnw("WHIP connection refused: "+why, nil, "remote", remote.String())
	})
	go func() { s.serve <- s.http.Serve(limited) }()
	return nil
}

// Addr returns the address listened on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, ends every session and waits for them.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
	<-s.serve
	s.mu.Lock()
	s.cancel() // under mu: no session is added after this
	s.mu.Unlock()
	s.wg.Wait()
	s.closeMuxes()
}

func (s *Server) closeMuxes() {
	if s.udpMux != nil {
		_ = s.udpMux.Close()
	}
	if s.tcpMux != nil {
		_ = s.tcpMux.Close()
	}
}

func (s *Server) add(c *conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return fmt.Errorf("%w: the server is shutting down", ErrUnavailable)
	}
	if len(s.conns) >= s.MaxSessions {
		return fmt.Errorf("%w: %d WHIP sessions already running", ErrUnavailable, len(s.conns))
	}
	s.conns[c.id] = c
	s.wg.Add(1)
	return nil
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
}

func (s *Server) lookup(id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}
