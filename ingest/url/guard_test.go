package url

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBlocked: every range the guard refuses, at its first address, an
// address inside and (for IPv4) in its IPv4-mapped IPv6 form, with the
// public neighbours that stay allowed.
func TestBlocked(t *testing.T) {
	blocked := []struct{ name, addr string }{
		{"this network", "0.0.0.0"},
		{"this network", "0.1.2.3"},
		{"private 10/8", "10.0.0.1"},
		{"private 10/8", "10.255.255.255"},
		{"shared CGNAT 100.64/10", "100.64.0.0"},
		{"shared CGNAT 100.64/10 (Alibaba metadata)", "100.100.100.200"},
		{"shared CGNAT 100.64/10", "100.127.255.255"},
		{"loopback", "127.0.0.1"},
		{"loopback", "127.255.255.254"},
		{"link-local (cloud metadata)", "169.254.169.254"},
		{"private 172.16/12", "172.16.0.1"},
		{"private 172.16/12", "172.31.255.255"},
		{"IETF 192.0.0/24", "192.0.0.1"},
		{"IETF 192.0.0/24", "192.0.0.170"},
		{"TEST-NET-1", "192.0.2.10"},
		{"6to4 relay", "192.88.99.1"},
		{"private 192.168/16", "192.168.1.1"},
		{"benchmarking 198.18/15", "198.18.0.1"},
		{"benchmarking 198.18/15", "198.19.255.255"},
		{"TEST-NET-2", "198.51.100.7"},
		{"TEST-NET-3", "203.0.113.9"},
		{"multicast", "224.0.0.1"},
		{"multicast", "239.255.255.250"},
		{"reserved 240/4", "240.0.0.1"},
		{"broadcast", "255.255.255.255"},

		{"IPv6 unspecified", "::"},
		{"IPv6 loopback", "::1"},
		{"IPv4-compatible", "::7f00:1"},
		{"IPv4-compatible public", "::808:808"},
		{"IPv4-translated", "::ffff:0:a00:1"},
		{"NAT64 of loopback", "64:ff9b::7f00:1"},
		{"NAT64 of private", "64:ff9b::10.1.2.3"},
		{"NAT64 of metadata", "64:ff9b::169.254.169.254"},
		{"local-use NAT64", "64:ff9b:1::808:808"},
		{"discard-only", "100::1"},
		{"Teredo", "2001::1"},
		{"IETF 2001::/23", "2001:1::1"},
		{"documentation 2001:db8", "2001:db8::1"},
		{"6to4", "2002::1"},
		{"6to4 of loopback", "2002:7f00:1::1"},
		{"6to4 of public", "2002:808:808::1"},
		{"documentation 3fff", "3fff::1"},
		{"SRv6", "5f00::1"},
		{"unique local", "fc00::1"},
		{"unique local", "fd12:3456::1"},
		{"link-local", "fe80::1"},
		{"link-local with zone", "fe80::1%eth0"},
		{"site-local", "fec0::1"},
		{"site-local", "feff::1"},
		{"multicast", "ff02::1"},
		{"multicast global", "ff0e::1"},
	}
	for _, c := range blocked {
		a := netip.MustParseAddr(c.addr)
		require.True(t, Blocked(a), "%s %s", c.name, c.addr)
		if a.Is4() {
			mapped := netip.AddrFrom16(a.As16())
			require.True(t, mapped.Is4In6())
			require.True(t, Blocked(mapped), "%s %s (IPv4-mapped %s)", c.name, c.addr, mapped)
			// And as the resolver would return it, parsed from text.
			require.True(t, Blocked(netip.MustParseAddr("::ffff:"+c.addr)), "%s ::ffff:%s", c.name, c.addr)
		}
	}
	require.True(t, Blocked(netip.Addr{}), "the zero Addr")

	allowed := []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34",
		"100.63.255.255", "100.128.0.0", // around 100.64.0.0/10
		"198.17.255.255", "198.20.0.0", // around 198.18.0.0/15
		"192.0.1.255", "192.0.3.0", // around 192.0.0.0/24 and 192.0.2.0/24
		"172.15.255.255", "172.32.0.0",
		"223.255.255.255",
		"::ffff:8.8.8.8",
		"64:ff9b::808:808", // NAT64 of a public address
		"2606:4700:4700::1111", "2a00:1450:4001::1", "2001:4860:4860::8888",
	}
	for _, s := range allowed {
		require.False(t, Blocked(netip.MustParseAddr(s)), s)
	}
}

// hookedClient is a Client whose resolver answers from names and whose
// dialer connects every address literal to target (a test server),
// recording what it was asked to dial.
type hookedClient struct {
	*Client
	mu      sync.Mutex
	dialed  []string
	lookups atomic.Int32
}

func newHookedClient(t *testing.T, target string, resolve func(n int, host string) []netip.Addr) *hookedClient {
	t.Helper()
	h := &hookedClient{Client: &Client{SpoolDir: t.TempDir()}}
	h.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		n := int(h.lookups.Add(1))
		addrs := resolve(n, host)
		if addrs == nil {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return addrs, nil
	}
	h.dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		h.mu.Lock()
		h.dialed = append(h.dialed, address)
		h.mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}
	require.NoError(t, h.Initialize())
	t.Cleanup(h.Close)
	return h
}

func (h *hookedClient) dials() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.dialed...)
}

// countingServer serves a few MPEG-TS null packets and counts requests.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "video/mp2t")
		_, _ = w.Write(nullTS(8))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// nullTS is n MPEG-TS null packets (PID 0x1FFF).
func nullTS(n int) []byte {
	b := make([]byte, 188*n)
	for i := 0; i < n; i++ {
		p := b[i*188:]
		p[0], p[1], p[2], p[3] = 0x47, 0x1f, 0xff, 0x10
		for j := 4; j < 188; j++ {
			p[j] = 0xff
		}
	}
	return b
}

// TestGuardRefusesEveryBlockedRange resolves a name to an address of each
// blocked range (and, for IPv4, its IPv4-mapped form): the pull fails with
// ErrPrivateAddress, nothing is dialed and the server sees no request. A
// public address, resolved and dialed the same way, reaches the server.
func TestGuardRefusesEveryBlockedRange(t *testing.T) {
	srv, hits := countingServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	var addrs []netip.Addr
	for _, p := range blockedPrefixes {
		a := p.Addr().Next()
		if !p.Contains(a) {
			a = p.Addr()
		}
		addrs = append(addrs, a)
		if a.Is4() {
			addrs = append(addrs, netip.AddrFrom16(a.As16()))
		}
	}
	addrs = append(addrs, netip.MustParseAddr("64:ff9b::a00:1"), netip.MustParseAddr("::ffff:169.254.169.254"))
	for _, a := range addrs {
		t.Run(a.String(), func(t *testing.T) {
			h := newHookedClient(t, srv.Listener.Addr().String(), func(int, string) []netip.Addr { return []netip.Addr{a} })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := Pull(ctx, Config{URL: "http://media.test:" + strconv.Itoa(port) + "/x.ts", Client: h.Client, Sink: newSink()})
			require.ErrorIs(t, err, ErrPrivateAddress)
			require.Contains(t, err.Error(), "media.test resolves to "+a.Unmap().String())
			require.Empty(t, h.dials())
		})
	}
	require.Zero(t, hits.Load(), "the server saw no request")

	h := newHookedClient(t, srv.Listener.Addr().String(), func(int, string) []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}
	})
	err := Pull(context.Background(), Config{URL: "http://media.test:" + strconv.Itoa(port) + "/x.ts", Client: h.Client, Sink: newSink()})
	require.NoError(t, err)
	require.NotZero(t, hits.Load(), "a public address is fetched")
	require.Equal(t, "93.184.216.34:"+strconv.Itoa(port), h.dials()[0])
}

// TestGuardMixedAnswer: a name with one public and one private address is
// refused as a whole.
func TestGuardMixedAnswer(t *testing.T) {
	srv, hits := countingServer(t)
	h := newHookedClient(t, srv.Listener.Addr().String(), func(int, string) []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.7")}
	})
	err := Pull(context.Background(), Config{URL: "http://media.test/x.ts", Client: h.Client, Sink: newSink()})
	require.ErrorIs(t, err, ErrPrivateAddress)
	require.Empty(t, h.dials())
	require.Zero(t, hits.Load())
}

// TestGuardDNSRebinding: the name resolves to a public address first and
// to a private one afterwards. The connection goes to the address that
// was checked (never to a second answer), and a later connection, which
// resolves again, is checked again and refused.
func TestGuardDNSRebinding(t *testing.T) {
	srv, _ := countingServer(t)
	public, private := netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")
	h := newHookedClient(t, srv.Listener.Addr().String(), func(n int, _ string) []netip.Addr {
		if n == 1 {
			return []netip.Addr{public}
		}
		return []netip.Addr{private}
	})
	ctx := context.Background()
	c, err := h.guard.DialContext(ctx, "tcp", "media.test:80")
	require.NoError(t, err)
	c.Close()
	require.Equal(t, []string{"93.184.216.34:80"}, h.dials(), "dialed the checked address literal")
	require.EqualValues(t, 1, h.lookups.Load(), "one lookup per connection")

	_, err = h.guard.DialContext(ctx, "tcp", "media.test:80")
	require.ErrorIs(t, err, ErrPrivateAddress)
	require.Len(t, h.dials(), 1, "the rebound answer is never dialed")

	// Through a pull: whatever connections it makes, none goes to the
	// private address.
	h2 := newHookedClient(t, srv.Listener.Addr().String(), func(n int, _ string) []netip.Addr {
		if n == 1 {
			return []netip.Addr{public}
		}
		return []netip.Addr{private}
	})
	err = Pull(ctx, Config{URL: "http://media.test/x.ts", Client: h2.Client, Sink: newSink()})
	if err != nil {
		require.ErrorIs(t, err, ErrPrivateAddress)
	}
	for _, d := range h2.dials() {
		require.Equal(t, "93.184.216.34:80", d)
	}
}

// TestGuardRedirect: a public origin that redirects to a private address
// is refused at the redirect.
func TestGuardRedirect(t *testing.T) {
	var inner atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "internal.test" {
			inner.Add(1)
			_, _ = w.Write(nullTS(4))
			return
		}
		http.Redirect(w, r, "http://internal.test/secret.ts", http.StatusFound)
	}))
	defer srv.Close()
	h := newHookedClient(t, srv.Listener.Addr().String(), func(_ int, host string) []netip.Addr {
		if host == "internal.test" {
			return []netip.Addr{netip.MustParseAddr("10.1.2.3")}
		}
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}
	})
	err := Pull(context.Background(), Config{URL: "http://media.test/x.ts", Client: h.Client, Sink: newSink()})
	require.ErrorIs(t, err, ErrPrivateAddress)
	require.Zero(t, inner.Load())
}

// TestGuardIgnoresProxyEnvironment: with the guard on, HTTP_PROXY is not
// used: the connection goes to the checked address of the target, and a
// private target is refused rather than handed to the proxy.
func TestGuardIgnoresProxyEnvironment(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		proxied.Add(1)
		_, _ = w.Write(nullTS(4))
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	srv, hits := countingServer(t)
	h := newHookedClient(t, srv.Listener.Addr().String(), func(_ int, host string) []netip.Addr {
		if host == "intranet.test" {
			return []netip.Addr{netip.MustParseAddr("10.20.30.40")}
		}
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}
	})
	err := Pull(context.Background(), Config{URL: "http://media.test/x.ts", Client: h.Client, Sink: newSink()})
	require.NoError(t, err)
	require.NotZero(t, hits.Load())
	require.Equal(t, "93.184.216.34:80", h.dials()[0], "the target's checked address, not the proxy's")

	err = Pull(context.Background(), Config{URL: "http://intranet.test/x.ts", Client: h.Client, Sink: newSink()})
	require.ErrorIs(t, err, ErrPrivateAddress)
	require.Zero(t, proxied.Load(), "the proxy saw nothing")
}

// TestGuardSRTAndRTSP: srt:// and rtsp:// pulls to loopback are refused
// by default (a Pull without a Client), before any packet is sent, as are
// names that resolve to private addresses.
func TestGuardSRTAndRTSP(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tcp.Close()
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	srtPort := udp.LocalAddr().(*net.UDPAddr).Port
	rtspPort := tcp.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, u := range []string{
		"srt://127.0.0.1:" + strconv.Itoa(srtPort) + "?streamid=live",
		"srt://[::ffff:127.0.0.1]:" + strconv.Itoa(srtPort),
		"rtsp://127.0.0.1:" + strconv.Itoa(rtspPort) + "/cam",
		"rtsps://127.0.0.1:" + strconv.Itoa(rtspPort) + "/cam",
		"rtsp://user:pw@[::ffff:127.0.0.1]:" + strconv.Itoa(rtspPort) + "/cam",
	} {
		err := Pull(ctx, Config{URL: u, Sink: newSink()})
		require.ErrorIs(t, err, ErrPrivateAddress, u)
		require.NotContains(t, err.Error(), "pw", "credentials are redacted")
	}

	h := newHookedClient(t, tcp.Addr().String(), func(int, string) []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("192.168.0.10")}
	})
	for _, u := range []string{"srt://cam.test:9000?streamid=x", "rtsp://cam.test/stream"} {
		err := Pull(ctx, Config{URL: u, Client: h.Client, Sink: newSink()})
		require.ErrorIs(t, err, ErrPrivateAddress, u)
		require.Contains(t, err.Error(), "cam.test resolves to 192.168.0.10")
	}
	require.Empty(t, h.dials())

	require.NoError(t, udp.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, _, err = udp.ReadFrom(make([]byte, 2048))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "the SRT listener got no packet: %v", err)
	require.Zero(t, accepted.Load(), "the RTSP listener got no connection")
	tcp.Close()
	<-done
}

// TestDefaultClientGuards: the zero Client, and Pull without one, have the
// guard on.
func TestDefaultClientGuards(t *testing.T) {
	srv, hits := countingServer(t)
	err := Pull(context.Background(), Config{URL: srv.URL + "/x.ts", Sink: newSink()})
	require.ErrorIs(t, err, ErrPrivateAddress)
	c := &Client{SpoolDir: t.TempDir()}
	require.NoError(t, c.Initialize())
	err = Pull(context.Background(), Config{URL: srv.URL + "/x.ts", Client: c, Sink: newSink()})
	require.ErrorIs(t, err, ErrPrivateAddress)
	require.Zero(t, hits.Load())
}

// TestControlCheck: the socket-level check, the last line behind the
// resolver's, refuses blocked addresses in every notation the kernel is
// given them.
func TestControlCheck(t *testing.T) {
	for _, a := range []string{"127.0.0.1:80", "[::1]:80", "[::ffff:10.0.0.1]:443", "[fe80::1%lo]:80", "169.254.169.254:80", "[64:ff9b::7f00:1]:80", "bogus"} {
		require.ErrorIs(t, controlCheck("tcp", a, nil), ErrPrivateAddress, a)
	}
	for _, a := range []string{"8.8.8.8:53", "[2606:4700:4700::1111]:443", "[::ffff:8.8.8.8]:80"} {
		require.NoError(t, controlCheck("tcp", a, nil), a)
	}
}

// TestGuardHLSSegments: a public playlist whose segments are on a private
// address does not get them fetched.
func TestGuardHLSSegments(t *testing.T) {
	var inner atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "intranet.test" {
			inner.Add(1)
			_, _ = w.Write(nullTS(4))
			return
		}
		_, _ = w.Write([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://intranet.test/seg0.ts\n#EXT-X-ENDLIST\n"))
	}))
	defer srv.Close()
	h := newHookedClient(t, srv.Listener.Addr().String(), func(_ int, host string) []netip.Addr {
		if host == "intranet.test" {
			return []netip.Addr{netip.MustParseAddr("10.0.0.1")}
		}
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}
	})
	h.hlsRetryDelay = time.Millisecond
	err := Pull(context.Background(), Config{URL: "http://media.test/index.m3u8", Client: h.Client, Sink: newSink()})
	require.ErrorIs(t, err, ErrPrivateAddress)
	require.Contains(t, err.Error(), "segment http://intranet.test/seg0.ts")
	require.Zero(t, inner.Load())
}
