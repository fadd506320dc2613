package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// shortLimits makes the HTTP limits short for a test.
func shortLimits(t *testing.T) {
	saved := httpLimits
	httpLimits.ReadHeader = 1500 * time.Millisecond
	httpLimits.Read = 600 * time.Millisecond
	httpLimits.Idle = 600 * time.Millisecond
	httpLimits.MaxConns = 32
	httpLimits.MaxConnsPerIP = 8
	t.Cleanup(func() { httpLimits = saved })
}

func freeTCPPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// dialFrom connects to port from a given loopback address.
func dialFrom(t *testing.T, from string, port int) net.Conn {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c within d (a read
// returns EOF or an error other than our deadline).
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue // a response (e.g. 408) before the close
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		return true
	}
}

func serveTest(t *testing.T) int {
	shortLimits(t)
	port := freeTCPPort(t)
	var e endpoints
	require.NoError(t, e.serveHTTP("test_port", port, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("ok"))
	})))
	t.Cleanup(e.closeHTTP)
	return port
}

// TestHTTPSlowloris: clients that send half a request header, a partial
// body, or keep an idle connection are disconnected after the bounds, one
// address cannot hold more than MaxConnsPerIP connections, and a client
// from another address is served throughout.
func TestHTTPSlowloris(t *testing.T) {
	port := serveTest(t)
	get := func() error {
		c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}

	// 20 half headers from one address: 8 are held, the rest closed at
	// once.
	var slow []net.Conn
	for range 20 {
		c := dialFrom(t, "127.0.0.2", port)
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
		slow = append(slow, c)
	}
	refused := 0
	for _, c := range slow {
		if closedWithin(c, 30*time.Millisecond) {
			refused++
		}
	}
	require.Equal(t, 12, refused, "connections over the per-address bound are closed at once")
	require.NoError(t, get(), "another address is served while one is at its bound")
	for i, c := range slow {
		require.True(t, closedWithin(c, 3*time.Second), "half header %d is dropped after ReadHeader", i)
	}

	// A body that never completes.
	c := dialFrom(t, "127.0.0.3", port)
	_, _ = c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial"))
	require.True(t, closedWithin(c, 2*time.Second), "a partial body is dropped after Read")

	// An idle keep-alive connection.
	c = dialFrom(t, "127.0.0.4", port)
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.True(t, closedWithin(c, 2*time.Second), "an idle connection is closed after Idle")
	require.NoError(t, get())
}

// TestHTTPConnLimit: over MaxConns, new connections are closed at once;
// once the holders go, connections are accepted again.
func TestHTTPConnLimit(t *testing.T) {
	port := serveTest(t)
	var held []net.Conn
	for i := range 32 {
		c := dialFrom(t, fmt.Sprintf("127.0.1.%d", i/8+1), port)
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)
	extra := dialFrom(t, "127.0.2.1", port)
	require.True(t, closedWithin(extra, time.Second), "the 33rd connection is closed")
	for _, c := range held {
		c.Close()
	}
	require.Eventually(t, func() bool {
		c := dialFrom(t, "127.0.2.2", port)
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
		b, _ := io.ReadAll(c)
		return strings.HasPrefix(string(b), "HTTP/1.1 200")
	}, 3*time.Second, 50*time.Millisecond)
}
