// Package rtsptest runs an RTSP server for tests: gortsplib's own server,
// a real protocol peer, that relays what a publisher sends with ANNOUNCE
// and RECORD (e.g. ffmpeg -f rtsp) to the readers that DESCRIBE, SETUP and
// PLAY the same path, like the gortsplib "server" example. A test may also
// publish from Go with Publish.
//
// The server listens on a loopback TCP port only: readers that ask for UDP
// are refused (461 Unsupported Transport) and fall back to TCP.
package rtsptest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// Server is a running relay server. Create it with Start.
type Server struct {
	// Addr is the host:port the server listens on.
	Addr string

	srv *gortsplib.Server

	mu      sync.Mutex
	streams map[string]*path // by path, without the leading slash
	changed chan struct{}    // closed and replaced when a stream is published
}

// path is one published stream.
type path struct {
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession // nil when published with Publish
}

// Start starts a server on a free loopback port; it is closed with
// t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{streams: map[string]*path{}, changed: make(chan struct{})}
	addrs := make(chan string, 1)
	s.srv = &gortsplib.Server{
		Handler:     &handler{s: s},
		RTSPAddress: "127.0.0.1:0",
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err == nil {
				addrs <- ln.Addr().String()
			}
			return ln, err
		},
	}
	if err := s.srv.Start(); err != nil {
		t.Fatalf("RTSP server: %v", err)
	}
	s.Addr = <-addrs
	t.Cleanup(s.Close)
	return s
}

// URL returns the rtsp:// URL of a path.
func (s *Server) URL(p string) string { return fmt.Sprintf("rtsp://%s/%s", s.Addr, p) }

// Close closes the streams and the server, and waits for it.
func (s *Server) Close() {
	s.mu.Lock()
	for k, p := range s.streams {
		p.stream.Close()
		delete(s.streams, k)
	}
	s.mu.Unlock()
	s.srv.Close()
}

// Publish makes a stream available on path p for packets the test writes
// with the returned function; unpublish ends it (readers are
// disconnected).
func (s *Server) Publish(p string, desc *description.Session) (write func(*description.Media, *rtp.Packet) error, unpublish func(), err error) {
	st := &gortsplib.ServerStream{Server: s.srv, Desc: desc}
	if err := st.Initialize(); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	if old, ok := s.streams[p]; ok {
		old.stream.Close()
	}
	entry := &path{stream: st}
	s.streams[p] = entry
	s.notifyLocked()
	s.mu.Unlock()
	unpublish = func() {
		s.mu.Lock()
		if s.streams[p] == entry {
			delete(s.streams, p)
		}
		s.mu.Unlock()
		st.Close()
	}
	return st.WritePacketRTP, unpublish, nil
}

// WaitPublished waits until a stream is published on p.
func (s *Server) WaitPublished(ctx context.Context, p string) error {
	for {
		s.mu.Lock()
		_, ok := s.streams[p]
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("nothing published on %q: %w", p, context.Cause(ctx))
		}
	}
}

// notifyLocked wakes WaitPublished. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// stream returns the stream published on p.
func (s *Server) stream(p string) *gortsplib.ServerStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.streams[p]; ok {
		return e.stream
	}
	return nil
}

// handler serves the RTSP requests.
type handler struct{ s *Server }

// OnSessionClose ends the stream of a publisher that left.
func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range s.streams {
		if p.publisher == ctx.Session {
			p.stream.Close()
			delete(s.streams, k)
		}
	}
}

// OnDescribe answers with the stream of the path, 404 when nobody
// publishes it.
func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	st := h.s.stream(trim(ctx.Path))
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

// OnAnnounce creates the stream of a publisher, replacing an older one.
func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	st := &gortsplib.ServerStream{Server: h.s.srv, Desc: ctx.Description}
	if err := st.Initialize(); err != nil {
		return &base.Response{StatusCode: base.StatusBadRequest}, err
	}
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.streams[trim(ctx.Path)]; ok {
		old.stream.Close()
		if old.publisher != nil {
			old.publisher.Close()
		}
	}
	s.streams[trim(ctx.Path)] = &path{stream: st, publisher: ctx.Session}
	s.notifyLocked()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSetup accepts a publisher's medias, and gives a reader the stream.
func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	st := h.s.stream(trim(ctx.Path))
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

// OnPlay lets a reader play.
func (h *handler) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnRecord relays the publisher's packets to the readers.
func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	st := h.s.stream(trim(ctx.Path))
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil
	}
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		_ = st.WritePacketRTP(medi, pkt) // a reader that cannot keep up loses packets
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// trim removes the slashes around a path.
func trim(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}
