package url

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/tributary-ingress/tributary/ingest/msgstream"
)

// UDPReadTimeout ends a udp:// pull that receives nothing for this long.
const UDPReadTimeout = 10 * time.Second

// maxDatagram bounds one UDP datagram of MPEG-TS (seven 188-byte packets
// is the usual; jumbo frames carry more).
const maxDatagram = 65535

// pullUDP reads MPEG-TS from udp://host:port: Tributary binds port on
// host (a local address, or every interface when host is empty or
// 0.0.0.0/::), and when host is a multicast group joins it on every
// interface that can (or the one named by ?interface=). The port must be
// 1024 or above. Unlike the other schemes nothing is dialed, so the
// address guard does not apply; whether udp:// is allowed at all is the
// enable_udp_url_pull switch at creation (anyone who can reach the port
// can send media into the session, and a multicast group on the server's
// network can be relayed into a room).
func pullUDP(ctx context.Context, c Config, host, port, iface string) error {
	pc, err := listenUDP(host, port, iface)
	if err != nil {
		return err
	}
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	c.format(FormatTS)
	err = runTS(ctx, c, newDatagramReader(pc, UDPReadTimeout))
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

func listenUDP(host, port, iface string) (net.PacketConn, error) {
	n, err := net.LookupPort("udp", port)
	if err != nil || n < 1024 {
		return nil, fmt.Errorf("udp:// URL: needs a port of 1024 or above (got %q)", port)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, fmt.Errorf("udp:// URL: the host must be an IP address to listen on or a multicast group (got %q)", host)
	}
	if !ip.IsMulticast() {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip.String(), port))
		if err != nil {
			return nil, fmt.Errorf("listening for MPEG-TS on udp %s: %w", net.JoinHostPort(ip.String(), port), err)
		}
		return pc, nil
	}
	var ifi *net.Interface
	if iface != "" {
		if ifi, err = net.InterfaceByName(iface); err != nil {
			return nil, fmt.Errorf("udp:// URL: interface %q: %w", iface, err)
		}
	}
	pc, err := net.ListenMulticastUDP("udp", ifi, &net.UDPAddr{IP: ip.AsSlice(), Port: n})
	if err != nil {
		return nil, fmt.Errorf("joining multicast group %s: %w", net.JoinHostPort(ip.String(), port), err)
	}
	return pc, nil
}

// datagrams reads one UDP datagram per ReadMessage.
type datagrams struct{ net.PacketConn }

func (d datagrams) ReadMessage(p []byte) (int, error) {
	n, _, err := d.ReadFrom(p)
	return n, err
}

// newDatagramReader returns pc's datagrams as a byte stream (MPEG-TS
// packets do not cross datagrams) whose reads end after timeout of
// silence.
func newDatagramReader(pc net.PacketConn, timeout time.Duration) *msgstream.Stream {
	return msgstream.New(datagrams{pc}, maxDatagram, timeout, func(d time.Duration) error {
		return fmt.Errorf("nothing received on udp for %v", d)
	})
}
