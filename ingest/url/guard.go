package url

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// The address guard. A URL ingress makes this server connect wherever its
// creator says; without a guard, anyone who may create ingresses can make
// it fetch from the cloud metadata service, the loopback interface or the
// private network behind it (server-side request forgery). With the guard
// on (deny_private_urls, the default), every connection of a pull, for
// every scheme and every redirect, is made like this: the host is resolved
// once, every address it resolves to is checked against Blocked, and the
// connection goes to a checked address literal, so a DNS answer that
// changes between the check and the connection (DNS rebinding) is never
// used. The socket's Control hook checks the address once more.

// blockedPrefixes are the destinations a pull refuses while the guard is
// on: every block of the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890 and its updates) that is not globally reachable
// unicast, and the IPv6 blocks that carry an IPv4 address to a
// translator or tunnel (where that IPv4 address could be a private one).
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are checked as the IPv4
// address they map (see Blocked), NAT64 addresses (64:ff9b::/96) as the
// IPv4 address they embed.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"; 0.0.0.0 reaches the local host on Linux
	netip.MustParsePrefix("10.0.0.0/8"),      // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space, carrier-grade NAT (RFC 6598); also cloud metadata (100.100.100.200)
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local; cloud metadata (169.254.169.254)
	netip.MustParsePrefix("172.16.0.0/12"),   // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (RFC 6890), DS-Lite
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation, TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated, RFC 7526)
	netip.MustParsePrefix("192.168.0.0/16"),  // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking (RFC 2544)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation, TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation, TEST-NET-3
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255 broadcast

	netip.MustParsePrefix("::/128"),          // unspecified
	netip.MustParsePrefix("::1/128"),         // loopback
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated, RFC 4291)
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (RFC 2765)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64 (RFC 8215): the operator's own translator
	netip.MustParsePrefix("100::/64"),        // discard-only (RFC 6666)
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, with Teredo (2001::/32)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4 (deprecated): carries an IPv4 address
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs (RFC 9602)
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated, RFC 3879)
	netip.MustParsePrefix("ff00::/8"),        // multicast
}

// nat64 is the well-known NAT64 prefix (RFC 6052): the last 32 bits are
// the IPv4 destination, which the translator reaches. RFC 6052, section
// 3.1, forbids non-global IPv4 addresses behind it; the guard checks the
// embedded address, so an IPv6-only host behind DNS64 still reaches
// public IPv4 origins.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Blocked reports whether a pull refuses to connect to a, with the guard
// on: any address in blockedPrefixes, or that Go classifies as loopback,
// private, link-local, multicast, unspecified or otherwise not global
// unicast. An IPv4-mapped IPv6 address is judged as its IPv4 address,
// and a zone is ignored.
func Blocked(a netip.Addr) bool {
	if !a.IsValid() {
		return true
	}
	a = a.WithZone("").Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		return Blocked(netip.AddrFrom4([4]byte(b[12:])))
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified()
}

// guard resolves and dials for a Client.
type guard struct {
	allowPrivate bool
	// lookup resolves a host name; net.DefaultResolver when nil.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// dial connects to an address literal ("ip:port").
	dial func(ctx context.Context, network, address string) (net.Conn, error)
}

func newGuard(allowPrivate bool, lookup func(context.Context, string) ([]netip.Addr, error),
	dial func(context.Context, string, string) (net.Conn, error),
) *guard {
	g := &guard{allowPrivate: allowPrivate, lookup: lookup, dial: dial}
	if g.lookup == nil {
		g.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if g.dial == nil {
		d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
		if !allowPrivate {
			d.Control = controlCheck
		}
		g.dial = d.DialContext
	}
	return g
}

// controlCheck refuses a socket about to connect to a blocked address: the
// last check, on the address the kernel is given.
func controlCheck(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrPrivateAddress, address)
	}
	if Blocked(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
	}
	return nil
}

// resolve returns the addresses of host (a name or an address literal).
// With the guard on, it refuses the host when any one of its addresses is
// blocked: a name that resolves to a public and a private address is
// refused, not half-used.
func (g *guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	literal := false
	if a, err := netip.ParseAddr(host); err == nil {
		addrs, literal = []netip.Addr{a}, true
	} else {
		addrs, err = g.lookup(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", host, err)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolving %s: no address", host)
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap() // the resolver may answer IPv4 as ::ffff:a.b.c.d
	}
	if g.allowPrivate {
		return addrs, nil
	}
	for _, a := range addrs {
		if Blocked(a) {
			if literal {
				return nil, fmt.Errorf("%w: %s", ErrPrivateAddress, host)
			}
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrPrivateAddress, host, a)
		}
	}
	return addrs, nil
}

// resolveAddr resolves "host:port" to the checked address to connect to.
func (g *guard) resolveAddr(ctx context.Context, hostport string) (netip.AddrPort, error) {
	host, port, err := splitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(addrs[0], port), nil
}

// DialContext connects to "host:port" through the checked addresses of
// host, in the resolver's order, never resolving host again.
func (g *guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := splitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		if (network == "tcp4" || network == "udp4") && !a.Unmap().Is4() ||
			(network == "tcp6" || network == "udp6") && a.Unmap().Is4() {
			continue
		}
		c, err := g.dial(ctx, network, netip.AddrPortFrom(a, port).String())
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%s has no %s address", host, network)
	}
	return nil, firstErr
}

// checkPeer refuses a UDP destination that a server names itself (the
// source of an RTSP Transport header).
func (g *guard) checkPeer(a netip.Addr) error {
	if !g.allowPrivate && Blocked(a) {
		return fmt.Errorf("%w: the server asked for UDP to %s", ErrPrivateAddress, a)
	}
	return nil
}

func splitHostPort(hostport string) (string, uint16, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, errors.Unwrap(err))
	}
	return host, uint16(port), nil
}
