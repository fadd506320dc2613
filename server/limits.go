package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of the HTTP ports (the API and console, health, metrics and
// debug ports), which are reachable from the network: every size, time
// and count is bounded, so slow or idle clients cannot hold connections
// (slowloris) and no single address can take them all. WHIP has its own
// server (ingest/whip) with the same kind of bounds.
var httpLimits = struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxHeaderBytes                int
	// MaxConns bounds the open connections of a port; MaxConnsPerIP those
	// from one address. Over either, a new connection is closed at once.
	MaxConns, MaxConnsPerIP int
}{
	ReadHeader:     10 * time.Second,
	Read:           30 * time.Second,
	Write:          2 * time.Minute, // a 60 s CPU profile from the debug port fits
	Idle:           time.Minute,
	MaxHeaderBytes: 64 << 10,
	MaxConns:       1024,
	MaxConnsPerIP:  64,
}

// newHTTPServer returns an http.Server for h with httpLimits' timeouts.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpLimits.ReadHeader,
		ReadTimeout:       httpLimits.Read,
		WriteTimeout:      httpLimits.Write,
		IdleTimeout:       httpLimits.Idle,
		MaxHeaderBytes:    httpLimits.MaxHeaderBytes,
	}
}

// connLimiter is a listener that closes connections over a total or
// per-address count, instead of queueing them.
type connLimiter struct {
	net.Listener
	max, perIP int

	mu    sync.Mutex
	total int
	byIP  map[string]int
}

func limitConns(ln net.Listener, max, perIP int) *connLimiter {
	return &connLimiter{Listener: ln, max: max, perIP: perIP, byIP: map[string]int{}}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		if l.total >= l.max || l.byIP[ip] >= l.perIP {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.total++
		l.byIP[ip]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *connLimiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

// open returns the connections counted now.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return c.RemoteAddr().String()
}

type limitedConn struct {
	net.Conn
	l    *connLimiter
	ip   string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
