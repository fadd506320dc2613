// Package netlimit bounds the connections a listener holds: in all, and
// from one client address, so that no single client can take every slot.
// Over either bound a new connection is closed at once rather than queued.
// An IPv6 client counts by its /64.
// The HTTP ports and the RTMP listeners use it.
package netlimit

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Listener is a net.Listener that counts its open connections.
type Listener struct {
	net.Listener
	max, perIP int
	// onRefuse, when set, is told about each refused connection and why.
	onRefuse func(remote net.Addr, why string)

	mu    sync.Mutex
	total int
	byIP  map[string]int
}

// Wrap bounds ln to max open connections, perIP from one address.
// onRefuse, when not nil, is called for each connection closed over a
// bound.
func Wrap(ln net.Listener, max, perIP int, onRefuse func(remote net.Addr, why string)) *Listener {
	return &Listener{Listener: ln, max: max, perIP: perIP, onRefuse: onRefuse, byIP: map[string]int{}}
}

// Accept returns the next connection within the bounds.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		var why string
		switch {
		case l.total >= l.max:
			why = fmt.Sprintf("too many connections (max %d)", l.max)
		case l.byIP[ip] >= l.perIP:
			why = fmt.Sprintf("too many connections from this address (max %d)", l.perIP)
		default:
			l.total++
			l.byIP[ip]++
		}
		l.mu.Unlock()
		if why != "" {
			if l.onRefuse != nil {
				l.onRefuse(c.RemoteAddr(), why)
			}
			_ = c.Close()
			continue
		}
		return &conn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *Listener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

// remoteIP is the client a connection counts for: its IPv4 address, or
// the /64 of its IPv6 address (one host is routinely given a whole /64,
// and could otherwise take every slot from addresses of its own).
func remoteIP(c net.Conn) string {
	a, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return c.RemoteAddr().String()
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return a.IP.String()
	}
	if ip = ip.Unmap(); ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

type conn struct {
	net.Conn
	l    *Listener
	ip   string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
