package netlimit

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeConn is a connection from a given address.
type fakeConn struct {
	net.Conn
	remote net.Addr
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c *fakeConn) Close() error         { c.closed = true; return nil }

// fakeListener hands out queued connections.
type fakeListener struct {
	net.Listener
	conns []*fakeConn
}

func (l *fakeListener) Accept() (net.Conn, error) {
	if len(l.conns) == 0 {
		return nil, net.ErrClosed
	}
	c := l.conns[0]
	l.conns = l.conns[1:]
	return c, nil
}

func from(ip string) *fakeConn {
	return &fakeConn{remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}}
}

// TestPerClientBound: one client cannot hold more than perIP connections;
// an IPv6 client counts by its /64 (a host usually has a whole /64 to
// pick addresses from), an IPv4-mapped address as its IPv4 address.
func TestPerClientBound(t *testing.T) {
	var queue []*fakeConn
	for i := range 3 {
		queue = append(queue, from("2001:db8:1:2::"+string(rune('a'+i))))
	}
	extra6 := from("2001:db8:1:2:ffff::1")
	other6 := from("2001:db8:1:3::1")
	v4 := from("192.0.2.1")
	mapped := from("::ffff:192.0.2.1")
	queue = append(queue, extra6, other6, v4, mapped)
	var refused []string
	l := Wrap(&fakeListener{conns: queue}, 100, 3, func(remote net.Addr, why string) { refused = append(refused, remote.String()) })
	var got []net.Conn
	for {
		c, err := l.Accept()
		if err != nil {
			break
		}
		got = append(got, c)
	}
	require.Len(t, got, 6, "3 from the /64, one from another /64, an IPv4 address twice")
	require.Equal(t, 2, l.byIP["192.0.2.1"], "the IPv4-mapped form counts as the IPv4 address")
	require.True(t, extra6.closed, "a 4th address of the same /64 is refused")
	require.False(t, other6.closed)
	require.Len(t, refused, 1)
	require.Equal(t, "192.0.2.1", remoteIP(mapped))
	require.Equal(t, "2001:db8:1:2::/64", remoteIP(extra6))
	for _, c := range got {
		require.NoError(t, c.Close())
	}
	require.Zero(t, l.total)
	require.Empty(t, l.byIP)
}
