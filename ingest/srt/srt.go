// Package srt is the SRT input, on the pure-Go github.com/datarhei/gosrt
// (no cgo, no libsrt; it speaks the handshake, encryption and
// retransmission that encoders such as OBS and ffmpeg use). It has two
// roles: a caller that pulls MPEG-TS from an srt:// URL (the URL input of
// LiveKit's ingress), and a listener where encoders push MPEG-TS with the
// stream key as streamid (beyond LiveKit's ingress).
package srt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	gosrt "github.com/datarhei/gosrt"
	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/ingest/msgstream"
)

// DefaultReadTimeout ends a connection that delivers nothing for this long.
const DefaultReadTimeout = 10 * time.Second

// DialConfig configures a caller.
type DialConfig struct {
	// URL is the srt:// URL: streamid, passphrase, latency and the other
	// options of the SRT URL syntax are honoured; mode must be caller
	// (the default).
	URL string
	// Resolve maps the URL's "host:port" to the address literal to
	// connect to, and may refuse it (ingest/url checks it against its
	// address guard, and the connection then goes to the checked address
	// without a second DNS lookup). Nil connects to the host as written.
	Resolve func(ctx context.Context, hostport string) (string, error)
	// ListenTimeout bounds the wait for a caller with mode=listener
	// (default DefaultListenTimeout).
	ListenTimeout time.Duration
}

// DefaultListenTimeout is how long a pull with mode=listener waits for the
// encoder to call.
const DefaultListenTimeout = 5 * time.Minute

// listen serves an srt:// URL with mode=listener: Tributary binds the
// URL's address (a host of "" or 0.0.0.0 binds every interface), takes
// the first caller that passes the URL's passphrase, and closes the
// listener, as GStreamer's srtsrc does in listener mode. The port must be
// 1024 or above: an ingress must not take a system port.
func listen(ctx context.Context, cfg gosrt.Config, host string, timeout time.Duration) (io.ReadCloser, error) {
	if timeout <= 0 {
		timeout = DefaultListenTimeout
	}
	_, port, err := net.SplitHostPort(host)
	if err != nil {
		return nil, fmt.Errorf("srt URL: %w", err)
	}
	if n, err := net.LookupPort("udp", port); err != nil || n < 1024 {
		return nil, fmt.Errorf("srt URL: mode=listener needs a port of 1024 or above (got %q)", port)
	}
	ln, err := gosrt.Listen("srt", host, cfg)
	if err != nil {
		return nil, fmt.Errorf("listening for an SRT caller on %s: %w", host, err)
	}
	type result struct {
		c   gosrt.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			req, err := ln.Accept2()
			if err != nil {
				ch <- result{nil, err}
				return
			}
			if reason, _ := checkEncryption(cfg.Passphrase, req); reason != 0 {
				req.Reject(reason)
				continue
			}
			c, err := req.Accept()
			if err != nil {
				continue
			}
			ch <- result{c, nil}
			return
		}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		ln.Close()
		if r := <-ch; r.c != nil {
			r.c.Close()
		}
		return nil, context.Cause(ctx)
	case <-t.C:
		ln.Close()
		if r := <-ch; r.c != nil {
			r.c.Close()
		}
		return nil, fmt.Errorf("no SRT caller connected to %s within %v (mode=listener)", host, timeout)
	}
	if r.err != nil {
		ln.Close()
		return nil, fmt.Errorf("listening for an SRT caller on %s: %w", host, r.err)
	}
	return &listenedConn{connReader: newConnReader(r.c), ln: ln}, nil
}

// listenedConn is the connection of a mode=listener pull: closing it closes
// its listener too.
type listenedConn struct {
	*connReader
	ln gosrt.Listener
}

func (l *listenedConn) Close() error {
	err := l.connReader.Close()
	l.ln.Close()
	return err
}

// Dial connects to an srt:// URL as a caller and returns the connection
// to read MPEG-TS from.
func Dial(ctx context.Context, dc DialConfig) (io.ReadCloser, error) {
	rawURL := dc.URL
	cfg := gosrt.DefaultConfig()
	host, err := cfg.UnmarshalURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("srt URL: %w", err)
	}
	switch mode := queryValue(rawURL, "mode"); mode {
	case "", "caller", "client":
	case "listener", "server":
		return listen(ctx, cfg, host, dc.ListenTimeout)
	default:
		return nil, fmt.Errorf("srt URL: mode=%s is not supported for pulling (use caller, or listener to wait for the encoder to call)", mode)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("srt URL: %w", err)
	}
	addr := host
	if dc.Resolve != nil {
		if addr, err = dc.Resolve(ctx, host); err != nil {
			return nil, fmt.Errorf("SRT server %s: %w", host, err)
		}
	}
	type result struct {
		c   gosrt.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := gosrt.Dial("srt", addr, cfg)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("connecting to SRT server %s: %w", host, r.err)
		}
		return newConnReader(r.c), nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

func queryValue(raw, key string) string {
	_, q, ok := strings.Cut(raw, "?")
	if !ok {
		return ""
	}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v
		}
	}
	return ""
}

// ErrTimeout is the cause when an SRT peer goes silent.
var ErrTimeout = errors.New("SRT peer went silent")

// msgConn is the part of an SRT connection connReader uses.
type msgConn interface {
	Read(p []byte) (int, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

// maxMessage is the largest SRT live-mode payload (1316 bytes, 7 TS packets,
// is the usual; the protocol allows up to the MSS).
const maxMessage = 1500

// connReader is an SRT connection as a byte stream whose reads end after
// DefaultReadTimeout of silence (ErrTimeout). SRT live mode is message
// based: a Read with a buffer smaller than the message loses the rest of
// it, so msgstream reads whole messages and hands them out.
type connReader struct {
	*msgstream.Stream
	c msgConn
}

// srtMessages reads one SRT message per ReadMessage.
type srtMessages struct{ msgConn }

func (m srtMessages) ReadMessage(p []byte) (int, error) { return m.Read(p) }

func newConnReader(c msgConn) *connReader {
	return &connReader{c: c, Stream: msgstream.New(srtMessages{c}, maxMessage, DefaultReadTimeout, func(d time.Duration) error {
		return fmt.Errorf("%w: nothing received for %v", ErrTimeout, d)
	})}
}

func (r *connReader) Close() error { return r.c.Close() }

// Publisher receives the MPEG-TS byte stream of one authorized push.
type Publisher interface {
	// Serve reads the stream until it ends or the session is over, and
	// returns why it ended (nil for a clean end).
	Serve(r io.Reader) error
}

// Authorizer starts the session of a push by stream key.
type Authorizer interface {
	AuthorizeSRT(streamKey string, remote net.Addr) (Publisher, error)
}

// Server is the SRT listener.
type Server struct {
	// Address to listen on, e.g. ":9710" (UDP).
	Address string
	// Passphrase, when set, is required from every publisher.
	Passphrase string
	// Latency is the receiver latency (default 120 ms, SRT's default).
	Latency    time.Duration
	Authorizer Authorizer
	Logger     logger.Logger

	ln gosrt.Listener
	wg sync.WaitGroup
}

// Initialize binds the listener and starts accepting.
func (s *Server) Initialize() error {
	if s.Logger == nil {
		s.Logger = logger.GetLogger()
	}
	cfg := gosrt.DefaultConfig()
	if s.Latency > 0 {
		cfg.ReceiverLatency = s.Latency
	}
	cfg.Passphrase = s.Passphrase
	ln, err := gosrt.Listen("srt", s.Address, cfg)
	if err != nil {
		return err
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// StreamKey returns the stream key carried by a streamid: the whole value,
// or the r= resource of the access-control syntax ("#!::r=key,m=publish").
func StreamKey(streamID string) string {
	if rest, ok := strings.CutPrefix(streamID, "#!::"); ok {
		for _, kv := range strings.Split(rest, ",") {
			if k, v, _ := strings.Cut(kv, "="); k == "r" {
				return v
			}
		}
		return ""
	}
	// "publish:key" and "live/key" forms are common in encoder presets.
	if i := strings.LastIndexAny(streamID, ":/"); i >= 0 {
		return streamID[i+1:]
	}
	return streamID
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		req, err := s.ln.Accept2()
		if err != nil {
			if errors.Is(err, gosrt.ErrListenerClosed) {
				return
			}
			s.Logger.Debugw("SRT accept", "error", err.Error())
			continue
		}
		key := StreamKey(req.StreamId())
		log := s.Logger.WithValues("remote", req.RemoteAddr().String())
		if key == "" {
			log.Infow("SRT publish refused: no stream key in the streamid", "streamid", req.StreamId())
			req.Reject(gosrt.REJ_PEER)
			continue
		}
		// The passphrase is checked before the stream key is looked at, so
		// a caller without it cannot end the live publisher on a key.
		if reason, msg := s.checkEncryption(req); msg != "" {
			log.Infow("SRT publish refused: "+msg, "streamid", req.StreamId())
			req.Reject(reason)
			continue
		}
		pub, err := s.Authorizer.AuthorizeSRT(key, req.RemoteAddr())
		if err != nil {
			log.Infow("SRT publish refused", "reason", err.Error())
			req.Reject(gosrt.REJX_FORBIDDEN)
			continue
		}
		conn, err := req.Accept()
		if err != nil {
			log.Infow("SRT accept failed", "error", err.Error())
			_ = pub.Serve(eofReader{err})
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			if err := pub.Serve(newConnReader(conn)); err != nil {
				log.Debugw("SRT publish ended", "reason", err.Error())
			}
		}()
	}
}

// checkEncryption enforces Passphrase on a connection request: with one
// set, only callers encrypting with it are let in; without one, an
// encrypted caller cannot be understood. It returns the rejection reason
// and a message for the log, or "" to go on.
func (s *Server) checkEncryption(req gosrt.ConnRequest) (gosrt.RejectionReason, string) {
	return checkEncryption(s.Passphrase, req)
}

// checkEncryption enforces a passphrase ("" for none) on a connection
// request (see Server.checkEncryption).
func checkEncryption(passphrase string, req gosrt.ConnRequest) (gosrt.RejectionReason, string) {
	switch {
	case passphrase == "" && req.IsEncrypted():
		return gosrt.REJ_UNSECURE, "the caller encrypts, but this listener has no srt_passphrase"
	case passphrase == "":
		return 0, ""
	case !req.IsEncrypted():
		return gosrt.REJ_UNSECURE, "encryption is required (srt_passphrase is set) and the caller sent none"
	}
	if err := req.SetPassphrase(passphrase); err != nil {
		return gosrt.REJ_BADSECRET, "wrong passphrase"
	}
	return 0, ""
}

// eofReader fails its first read with err.
type eofReader struct{ err error }

func (e eofReader) Read([]byte) (int, error) { return 0, e.err }

// Close stops accepting, closes every connection and waits for their
// publishers to return.
func (s *Server) Close() {
	s.ln.Close()
	s.wg.Wait()
}
