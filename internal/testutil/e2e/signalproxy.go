package e2e

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// SignalProxy stands between clients and a livekit-server's signalling
// endpoint (its HTTP API and the /rtc WebSocket), so that a test can end a
// participant's connection for good the way the server does — a
// LeaveRequest with action DISCONNECT, which server-sdk-go reports at once
// as a final disconnect without reconnecting by itself — and keep the
// server unreachable for new connections as long as it likes. The media
// (ICE) goes to the server directly. Give clients its URL instead of the
// server's.
type SignalProxy struct {
	// URL is the signalling URL for clients, ws://127.0.0.1:<port>.
	URL string

	upstream *url.URL
	proxy    *httputil.ReverseProxy

	mu      sync.Mutex
	conns   map[*proxiedConn]struct{}
	refuse  bool
	joins   int
	refused int
}

// proxiedConn is one client's signal connection and the server's.
type proxiedConn struct {
	client, server *websocket.Conn
	writeMu        sync.Mutex // the client side's writer
}

// NewSignalProxy serves a proxy of lk's signalling on a free loopback port
// until the test ends.
func NewSignalProxy(t testing.TB, lk *LiveKit) *SignalProxy {
	t.Helper()
	up, err := url.Parse(lk.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &SignalProxy{
		URL:      "ws://" + ln.Addr().String(),
		upstream: up,
		proxy:    httputil.NewSingleHostReverseProxy(up),
		conns:    map[*proxiedConn]struct{}{},
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		p.closeAll()
	})
	return p
}

func (p *SignalProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	refuse := p.refuse
	if refuse && strings.HasPrefix(r.URL.Path, "/rtc") {
		p.refused++
	}
	p.mu.Unlock()
	switch {
	case refuse && strings.HasPrefix(r.URL.Path, "/rtc"):
		http.Error(w, "refused by the test's signal proxy", http.StatusServiceUnavailable)
	case r.URL.Path == "/rtc" && websocket.IsWebSocketUpgrade(r):
		p.serveSignal(w, r)
	default:
		p.proxy.ServeHTTP(w, r)
	}
}

// serveSignal connects the client's WebSocket to the server's and copies
// the messages both ways until either side closes.
func (p *SignalProxy) serveSignal(w http.ResponseWriter, r *http.Request) {
	target := *p.upstream
	target.Scheme = "ws"
	target.Path = r.URL.Path
	target.RawQuery = r.URL.RawQuery
	header := http.Header{}
	for _, k := range []string{"Authorization", "User-Agent"} {
		if v := r.Header.Get(k); v != "" {
			header.Set(k, v)
		}
	}
	server, resp, err := websocket.DefaultDialer.DialContext(r.Context(), target.String(), header)
	if err != nil {
		status := http.StatusBadGateway
		if resp != nil {
			status = resp.StatusCode
		}
		http.Error(w, err.Error(), status)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	client, err := up.Upgrade(w, r, nil)
	if err != nil {
		_ = server.Close()
		return
	}
	c := &proxiedConn{client: client, server: server}
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.joins++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.close()
	}()
	go func() {
		defer c.close()
		for {
			typ, msg, err := server.ReadMessage()
			if err != nil {
				return
			}
			if err := c.writeClient(typ, msg); err != nil {
				return
			}
		}
	}()
	for {
		typ, msg, err := client.ReadMessage()
		if err != nil {
			return
		}
		if err := server.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}

func (c *proxiedConn) writeClient(typ int, msg []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.client.WriteMessage(typ, msg)
}

func (c *proxiedConn) close() {
	_ = c.client.Close()
	_ = c.server.Close()
}

// Leave ends every signal connection open through the proxy as the
// server ends one for good: the client gets a LeaveRequest with action
// DISCONNECT and the reason, then both connections close. It returns how
// many connections it ended.
func (p *SignalProxy) Leave(t testing.TB, reason livekit.DisconnectReason) int {
	t.Helper()
	msg, err := proto.Marshal(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
		Action: livekit.LeaveRequest_DISCONNECT, Reason: reason, CanReconnect: false,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	conns := make([]*proxiedConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		if err := c.writeClient(websocket.BinaryMessage, msg); err != nil {
			t.Logf("signal proxy: sending the leave: %v", err)
		}
		c.close()
	}
	return len(conns)
}

// Refuse makes the proxy answer new signal connections (and their
// validation) with 503, as an unreachable server, until Refuse(false).
func (p *SignalProxy) Refuse(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = on
}

// Counts returns how many signal connections the proxy has carried, and
// how many it refused.
func (p *SignalProxy) Counts() (joins, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.joins, p.refused
}

func (p *SignalProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.close()
	}
}
