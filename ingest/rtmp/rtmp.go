// Package rtmp is the RTMP and RTMPS input: it accepts encoder connections,
// authorizes each publish by its stream key, demuxes the FLV tags of an
// authorized publish (classic and Enhanced RTMP) and hands the tracks and
// frames to a Publisher. It knows nothing of the pipeline behind the
// Publisher.
package rtmp

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/sirupsen/logrus"
	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"

	"github.com/tributary-ingress/tributary/demux/flv"
	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/internal/netlimit"
	"github.com/tributary-ingress/tributary/media"
)

// Limits on what a client may make the server hold.
const (
	// DefaultReadTimeout ends a connection that sends nothing for this long:
	// a publishing encoder sends media many times a second.
	DefaultReadTimeout = 10 * time.Second
	// DefaultMaxConns bounds simultaneous connections per listener.
	DefaultMaxConns = 256
	// DefaultMaxConnsPerIP bounds simultaneous connections from one
	// address, so one client cannot take every slot.
	DefaultMaxConnsPerIP = 32
	// DefaultPublishTimeout bounds the time from accepting a connection to
	// an authorized publish (handshake, connect, createStream, publish):
	// encoders do it in well under a second, while a client dripping a
	// byte every few seconds would otherwise hold its slot forever (the
	// read timeout restarts with every byte).
	DefaultPublishTimeout = 10 * time.Second
	// maxMessageSize bounds one RTMP message: a 50 Mbps 2160p keyframe fits.
	maxMessageSize = 8 << 20
	// maxChunkStreams bounds chunk streams per connection; encoders use < 10.
	maxChunkStreams = 64
	// maxMessageStreams bounds message streams per connection.
	maxMessageStreams = 16
	// readBufferSize is each connection's read buffer. go-rtmp's default
	// (4 KiB) is one chunk of most encoders; with 64 KiB a read takes what
	// the socket holds: a 6 Mbit/s publish made 404 read system calls a
	// second, now 277 (strace during benchmarks/idle.sh).
	readBufferSize = 64 << 10
)

// Publisher receives the media of one authorized publish.
type Publisher interface {
	// Track announces a track, or a new configuration of one. An error
	// ends the connection.
	Track(t *media.Track) error
	// Frame hands over one frame. An error ends the connection.
	Frame(f *media.Frame) error
	// Close is called once when the publish ends: err is nil when the
	// encoder unpublished or disconnected cleanly.
	Close(err error)
	// Done is closed when the session behind the publisher ends on its own
	// (ingress updated or deleted, a newer publisher); the connection is
	// then closed.
	Done() <-chan struct{}
}

// Authorizer starts the session of a publish on a stream key, or refuses it
// with an error saying why.
type Authorizer interface {
	AuthorizeRTMP(streamKey string, remote net.Addr) (Publisher, error)
}

// Server is one RTMP (or RTMPS) listener.
type Server struct {
	// Address to listen on, e.g. ":1935".
	Address string
	// TLSConfig makes the listener RTMPS.
	TLSConfig *tls.Config
	// Authorizer authorizes publishes. Required.
	Authorizer Authorizer
	// ReadTimeout, MaxConns, MaxConnsPerIP and PublishTimeout default to
	// DefaultReadTimeout, DefaultMaxConns, DefaultMaxConnsPerIP and
	// DefaultPublishTimeout.
	ReadTimeout    time.Duration
	MaxConns       int
	MaxConnsPerIP  int
	PublishTimeout time.Duration
	Logger         logger.Logger

	ln    net.Listener
	srv   *gortmp.Server
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	wg    sync.WaitGroup
	serve chan error
}

// Initialize binds the listener and starts accepting.
func (s *Server) Initialize() error {
	if s.ReadTimeout == 0 {
		s.ReadTimeout = DefaultReadTimeout
	}
	if s.MaxConns == 0 {
		s.MaxConns = DefaultMaxConns
	}
	if s.MaxConnsPerIP == 0 {
		s.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if s.PublishTimeout == 0 {
		s.PublishTimeout = DefaultPublishTimeout
	}
	if s.Logger == nil {
		s.Logger = logger.GetLogger()
	}
	ln, err := net.Listen("tcp", s.Address)
	if err != nil {
		return err
	}
	// Connection bounds apply to the TCP connections, before any TLS.
	ln = netlimit.Wrap(ln, s.MaxConns, s.MaxConnsPerIP, func(remote net.Addr, why string) {
		s.Logger.Warnw("RTMP connection refused: "+why, nil, "remote", remote.String())
	})
	if s.TLSConfig != nil {
		ln = tls.NewListener(ln, s.TLSConfig)
	}
	s.ln = ln
	s.conns = map[*trackedConn]struct{}{}
	quiet := logrus.New()
	quiet.Out = io.Discard
	s.srv = gortmp.NewServer(&gortmp.ServerConfig{
		OnConnect: func(c net.Conn) (io.ReadWriteCloser, *gortmp.ConnConfig) {
			tc := s.track(c)
			h := &handler{s: s, conn: tc, log: s.Logger.WithValues("remote", c.RemoteAddr().String())}
			tc.h = h
			return tc, &gortmp.ConnConfig{
				Handler:          h,
				ReaderBufferSize: readBufferSize,
				ControlState: gortmp.StreamControlStateConfig{
					MaxMessageSize:    maxMessageSize,
					MaxChunkStreams:   maxChunkStreams,
					MaxMessageStreams: maxMessageStreams,
				},
				Logger: quiet,
			}
		},
	})
	s.serve = make(chan error, 1)
	go func() { s.serve <- s.srv.Serve(ln) }()
	return nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection (ending their publishes)
// and waits for them.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.serve
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// track wraps an accepted connection (already within the connection
// bounds, see Initialize): read deadlines, and a WaitGroup entry released
// when go-rtmp closes it (go-rtmp runs each connection in a goroutine of
// its own that it does not join).
func (s *Server) track(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, timeout: s.ReadTimeout, s: s}
	tc.publishBy.Store(time.Now().Add(s.PublishTimeout).UnixNano())
	tc.chunks = newChunkGuard(tc.published.Load)
	s.wg.Add(1)
	s.mu.Lock()
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	return tc
}

type trackedConn struct {
	net.Conn
	timeout time.Duration
	s       *Server
	h       *handler
	once    sync.Once
	// publishBy is when an unauthorized connection is dropped; published
	// is set once a publish is authorized.
	publishBy atomic.Int64 // unix nanoseconds
	published atomic.Bool
	// chunks bounds the messages the client declares (read goroutine
	// only).
	chunks *chunkGuard
}

func (c *trackedConn) Read(p []byte) (int, error) {
	deadline := time.Now().Add(c.timeout)
	publishBy := time.Unix(0, c.publishBy.Load())
	early := !c.published.Load() && publishBy.Before(deadline)
	if early {
		deadline = publishBy
	}
	if err := c.Conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if early && !c.published.Load() {
			err = fmt.Errorf("%w: no authorized publish within %v of connecting", ErrTimeout, c.s.PublishTimeout)
			c.s.Logger.Infow("RTMP connection dropped: no publish in time", "remote", c.RemoteAddr().String(), "timeout", c.s.PublishTimeout)
		} else {
			err = fmt.Errorf("%w: nothing received for %v", ErrTimeout, c.timeout)
		}
		c.h.fail(err)
	}
	if n > 0 {
		if gerr := c.chunks.feed(p[:n]); gerr != nil {
			c.s.Logger.Infow("RTMP connection dropped", "remote", c.RemoteAddr().String(), "reason", gerr.Error())
			c.h.fail(gerr)
			return 0, gerr
		}
	}
	return n, err
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.h.closed()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.s.wg.Done()
	})
	return err
}

// ErrTimeout is the cause when a publisher goes silent.
var ErrTimeout = errors.New("publisher went silent")

// StreamKey returns the stream key of a publishing name: its last path
// element, without query string ("live/abc?x=1" → "abc").
func StreamKey(publishingName string) string {
	name, _, _ := strings.Cut(publishingName, "?")
	name = strings.TrimRight(name, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// handler is the go-rtmp handler of one connection.
type handler struct {
	gortmp.DefaultHandler
	s    *Server
	conn *trackedConn
	log  logger.Logger

	mu      sync.Mutex
	pub     Publisher
	demux   *flv.Demuxer
	buf     []byte // scratch for message bodies, read goroutine only
	failErr error
	ended   bool
	stop    chan struct{}
	watcher sync.WaitGroup
}

func (h *handler) OnConnect(_ uint32, cmd *message.NetConnectionConnect) error {
	h.log.Debugw("RTMP connect", "app", cmd.Command.App, "flashVer", cmd.Command.FlashVer)
	return nil
}

func (h *handler) OnPublish(_ *gortmp.StreamContext, _ uint32, cmd *message.NetStreamPublish) error {
	key := StreamKey(cmd.PublishingName)
	h.mu.Lock()
	already := h.pub != nil
	h.mu.Unlock()
	if already {
		return errors.New("a second publish on the same connection")
	}
	if key == "" {
		h.log.Infow("RTMP publish refused: no stream key in the publish name", "name", cmd.PublishingName)
		return errors.New("no stream key")
	}
	pub, err := h.s.Authorizer.AuthorizeRTMP(key, h.conn.RemoteAddr())
	if err != nil {
		// The key is a secret: log only a prefix of it.
		h.log.Infow("RTMP publish refused", "streamKey", redact(key), "reason", err.Error())
		return err
	}
	d := &flv.Demuxer{OnTrack: pub.Track, OnFrame: pub.Frame}
	if err := d.Initialize(); err != nil {
		pub.Close(err)
		return err
	}
	h.mu.Lock()
	h.pub = pub
	h.demux = d
	h.stop = make(chan struct{})
	h.mu.Unlock()
	h.conn.published.Store(true)
	h.watcher.Add(1)
	go func() {
		defer h.watcher.Done()
		select {
		case <-pub.Done():
			_ = h.conn.Conn.Close()
		case <-h.stop:
		}
	}()
	return nil
}

func redact(key string) string {
	if len(key) <= 4 {
		return "****"
	}
	return key[:4] + "…"
}

// demuxer returns the publish's demuxer, nil before an authorized publish.
// The tag callbacks all run on the connection's read goroutine.
func (h *handler) demuxer() *flv.Demuxer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.demux
}

func (h *handler) OnSetDataFrame(_ uint32, data *message.NetStreamSetDataFrame) error {
	if d := h.demuxer(); d != nil {
		// Metadata is informational: a malformed onMetaData does not end
		// the publish.
		if err := d.WriteScriptData(data.Payload); err != nil {
			h.log.Debugw("ignoring malformed onMetaData", "error", err.Error())
		}
	}
	return nil
}

func (h *handler) OnAudio(ts uint32, payload io.Reader) error {
	return h.onMedia(ts, payload, (*flv.Demuxer).WriteAudio)
}

func (h *handler) OnVideo(ts uint32, payload io.Reader) error {
	return h.onMedia(ts, payload, (*flv.Demuxer).WriteVideo)
}

// onMedia hands an audio or video message to the demuxer (nothing before
// an authorized publish).
func (h *handler) onMedia(ts uint32, payload io.Reader, write func(*flv.Demuxer, uint32, []byte) error) error {
	d := h.demuxer()
	if d == nil {
		return nil
	}
	b, err := h.body(payload)
	if err != nil {
		return err
	}
	return h.check(guard.Call(h.log, "FLV demuxer", func() error { return write(d, ts, b) }))
}

// body reads a message body into the handler's scratch buffer, reused for
// every message: the demuxer copies what it keeps, so reading a tag does
// not allocate in the steady state.
func (h *handler) body(r io.Reader) ([]byte, error) {
	if br, ok := r.(*bytes.Reader); ok {
		n := br.Len()
		if cap(h.buf) < n {
			h.buf = make([]byte, n)
		}
		b := h.buf[:n]
		_, err := io.ReadFull(br, b)
		return b, err
	}
	b, err := io.ReadAll(r)
	return b, err
}

func (h *handler) check(err error) error {
	if err != nil {
		h.fail(err)
	}
	return err
}

// fail remembers the first error that ends the publish.
func (h *handler) fail(err error) {
	h.mu.Lock()
	if h.failErr == nil {
		h.failErr = err
	}
	h.mu.Unlock()
}

func (h *handler) OnFCUnpublish(_ uint32, _ *message.NetStreamFCUnpublish) error {
	h.end()
	return nil
}

func (h *handler) OnDeleteStream(_ uint32, _ *message.NetStreamDeleteStream) error {
	h.end()
	return nil
}

// closed runs when the connection closes, for any reason.
func (h *handler) closed() { h.end() }

func (h *handler) end() {
	h.mu.Lock()
	if h.ended || h.pub == nil {
		h.mu.Unlock()
		return
	}
	h.ended = true
	pub, err, stop := h.pub, h.failErr, h.stop
	h.mu.Unlock()
	// The publish is over: the connection is back to the bounds of one
	// without a publish (a second publish on it is refused), so it is
	// dropped within PublishTimeout instead of holding its slot and the
	// larger message bounds.
	h.conn.publishBy.Store(time.Now().Add(h.s.PublishTimeout).UnixNano())
	h.conn.published.Store(false)
	close(stop)
	h.watcher.Wait()
	pub.Close(err)
}
