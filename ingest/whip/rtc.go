package whip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/logger/pionlogger"
	"github.com/pion/dtls/v3/pkg/crypto/elliptic"
	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5/udp"
	"github.com/pion/webrtc/v4"
)

// ICEConfig is the WebRTC transport configuration: the keys of the
// official worker's rtc_config, with the meaning LiveKit's WebRTC
// settings give them.
type ICEConfig struct {
	// UDPPort..UDPPortEnd (UDPPortEnd 0: UDPPort alone) are shared by
	// every session: one socket per local address and port, with up to
	// one port per CPU of the range in use and the sessions spread over
	// them. PortRangeStart..PortRangeEnd instead give each session a port
	// of its own, and win when both are set.
	UDPPort, UDPPortEnd          int
	PortRangeStart, PortRangeEnd int
	// UseSTUNPortAsICE shares port 3478 as well as UDPPort.
	UseSTUNPortAsICE bool
	// TCPPort adds passive ICE-TCP candidates on this port; ForceTCP
	// gathers those only.
	TCPPort  int
	ForceTCP bool
	// NodeIPs (one IPv4, one IPv6) replace the host candidates' addresses
	// (NAT 1:1), or join them with AdvertiseInternalIP.
	NodeIPs             []string
	AdvertiseInternalIP bool
	// UseExternalIP finds, at start, each local address's external
	// address through STUNServers and rewrites the host candidates to
	// it; ExternalIPOnly then keeps only the IPv4 addresses that have
	// one. The mapping is checked by sending a packet to it unless
	// SkipExternalIPValidation; RequireIPv4 asks STUN over IPv4.
	UseExternalIP, ExternalIPOnly, SkipExternalIPValidation, RequireIPv4 bool
	// STUNServers ("host:port", port 3478 by default) find the external address with
	// UseExternalIP, and give server-reflexive candidates without ICE
	// lite, NodeIPs or UseExternalIP.
	STUNServers []string
	UseICELite  bool
	// UseMDNS resolves the client's .local candidates (multicast DNS); off,
	// they are ignored and the client's checks reveal its address.
	UseMDNS         bool
	IncludeLoopback bool
	// Interfaces and IPs filter the local addresses candidates are
	// gathered on: Includes only these when set, else all but Excludes.
	// IPs are networks in CIDR notation or single addresses.
	Interfaces, IPs Filter
	// BatchSize > 0 batches the writes of the shared UDP sockets, flushed
	// at most BatchFlushInterval apart.
	BatchSize          int
	BatchFlushInterval time.Duration
	// SCTP congestion settings (data channels) and the ICE candidate-pair
	// acceptance waits; 0 keeps pion's default.
	SCTPMinCwnd, SCTPFastRtxWnd, SCTPCwndCAStep    int
	HostAcceptanceMinWait, SrflxAcceptanceMinWait  time.Duration
	PrflxAcceptanceMinWait, RelayAcceptanceMinWait time.Duration
	// Development skips the start-up check of the UDP receive buffer.
	Development bool
}

// Filter includes or excludes names or networks.
type Filter struct {
	Includes, Excludes []string
}

const (
	// udpSocketBuffer is asked for each shared UDP socket, both ways: the
	// media of every session goes through it.
	udpSocketBuffer = 16 << 20
	// minUDPReadBuffer is the receive buffer under which the start-up
	// warns (the kernel caps the request at net.core.rmem_max).
	minUDPReadBuffer = 5_000_000
	// stunTimeout bounds one STUN exchange of the external address
	// discovery, and validateTimeout the check of its answer.
	stunTimeout     = 5 * time.Second
	validateTimeout = 5 * time.Second
	// stunPort is the port UseSTUNPortAsICE shares.
	stunPort = 3478
)

// pionIgnored are pion messages that say nothing useful about a WHIP
// session (pionlogger drops its own list too).
var pionIgnored = map[string][]string{
	"ice": {"Failed to ping without candidate pairs"},
}

// pionLoggers routes pion's messages to log, each at its level.
func pionLoggers(log logger.Logger) logging.LoggerFactory {
	return pionlogger.NewLoggerFactory(log, pionlogger.WithPrefixFilter(pionlogger.NewPrefixFilter(pionIgnored)))
}

// dtlsRetransmissionInterval is how soon a lost DTLS handshake flight is
// first sent again.
const dtlsRetransmissionInterval = 100 * time.Millisecond

// mediaSettings sets what every WHIP session's media transport does
// whatever rtc_config says, as the official worker's WHIP sessions do:
//   - no SRTP/SRTCP replay protection: no RTX stream is negotiated, so a
//     browser that probes bandwidth by resending old packets (Firefox)
//     resends them on the media stream, where they would be dropped as
//     replays, the probe fail, and pion's read buffer fill up. Each
//     packet is still authenticated with the session's keys; what a
//     repeated one does downstream is in docs/security.md (WHIP).
//   - DTLS curves in the order X25519, P-384, P-256 (pion's own order
//     prefers P-256 to P-384);
//   - a lost DTLS flight is first resent after 100 ms (pion: 1 s, then
//     doubling), so one lost packet does not hold the session's start.
func mediaSettings(se *webrtc.SettingEngine) {
	se.SetDTLSEllipticCurves(elliptic.X25519, elliptic.P384, elliptic.P256)
	se.DisableSRTPReplayProtection(true)
	se.DisableSRTCPReplayProtection(true)
	se.SetDTLSRetransmissionInterval(dtlsRetransmissionInterval)
}

// buildTransport turns ICE into the settings every session starts from
// (s.settings, s.iceServers) and opens the shared sockets.
func (s *Server) buildTransport() error {
	c := s.ICE
	se := webrtc.SettingEngine{LoggerFactory: pionLoggers(s.Logger)}
	se.SetICETimeouts(iceDisconnectedTimeout, iceFailedTimeout, iceKeepalive)
	mediaSettings(&se)
	if c.SCTPMinCwnd > 0 {
		se.SetSCTPMinCwnd(uint32(c.SCTPMinCwnd))
	}
	if c.SCTPFastRtxWnd > 0 {
		se.SetSCTPFastRtxWnd(uint32(c.SCTPFastRtxWnd))
	}
	if c.SCTPCwndCAStep > 0 {
		se.SetSCTPCwndCAStep(uint32(c.SCTPCwndCAStep))
	}
	ifFilter := interfaceFilter(c.Interfaces)
	if ifFilter != nil {
		se.SetInterfaceFilter(ifFilter)
	}
	ipFilter, err := networkFilter(c.IPs)
	if err != nil {
		return err
	}
	if ipFilter != nil {
		se.SetIPFilter(ipFilter)
	}
	if !c.UseMDNS {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}

	switch {
	case c.UseExternalIP:
		mapped, filter, err := s.externalMapping(ifFilter, ipFilter)
		if err != nil {
			return err
		}
		if filter != nil {
			ipFilter = filter
			se.SetIPFilter(filter)
		}
		if err := se.SetICEAddressRewriteRules(natRules(mapped, c.AdvertiseInternalIP)...); err != nil {
			return fmt.Errorf("rtc_config.use_external_ip: %w", err)
		}
	case len(c.NodeIPs) > 0:
		s.Logger.Infow("WHIP host candidates carry node_ip", "nodeIP", c.NodeIPs, "advertiseInternalIP", c.AdvertiseInternalIP)
		if err := se.SetICEAddressRewriteRules(natRules(c.NodeIPs, c.AdvertiseInternalIP)...); err != nil {
			return fmt.Errorf("rtc_config.node_ip: %w", err)
		}
	}

	var networks []webrtc.NetworkType
	if !c.ForceTCP {
		networks = append(networks, webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6)
		switch {
		case c.PortRangeStart != 0 && c.PortRangeEnd != 0:
			if err := se.SetEphemeralUDPPortRange(uint16(c.PortRangeStart), uint16(c.PortRangeEnd)); err != nil {
				return fmt.Errorf("rtc_config.port_range_start/port_range_end: %w", err)
			}
		case c.UDPPort > 0:
			mux, err := s.sharedUDP(ifFilter, ipFilter)
			if err != nil {
				return err
			}
			s.udpMux = mux
			se.SetICEUDPMux(mux)
		}
	}
	if c.TCPPort > 0 {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{Port: c.TCPPort})
		if err != nil {
			return fmt.Errorf("rtc_config.tcp_port %d: %w", c.TCPPort, err)
		}
		s.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:        ln,
			Logger:          se.LoggerFactory.NewLogger("tcp_mux"),
			ReadBufferSize:  50,
			WriteBufferSize: 4 << 20,
		})
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	if len(networks) == 0 {
		return errors.New("rtc_config.force_tcp needs rtc_config.tcp_port")
	}
	se.SetNetworkTypes(networks)
	for _, w := range []struct {
		d   time.Duration
		set func(time.Duration)
	}{
		{c.HostAcceptanceMinWait, se.SetHostAcceptanceMinWait}, {c.SrflxAcceptanceMinWait, se.SetSrflxAcceptanceMinWait},
		{c.PrflxAcceptanceMinWait, se.SetPrflxAcceptanceMinWait}, {c.RelayAcceptanceMinWait, se.SetRelayAcceptanceMinWait},
	} {
		if w.d > 0 {
			w.set(w.d)
		}
	}
	if c.IncludeLoopback {
		se.SetIncludeLoopbackCandidate(true)
	}
	s.iceServers = nil
	if c.UseICELite {
		se.SetLite(true)
	} else if len(c.NodeIPs) == 0 && !c.UseExternalIP && len(c.STUNServers) > 0 {
		s.iceServers = []webrtc.ICEServer{{URLs: stunURLs(c.STUNServers)}}
	}
	s.settings = se
	return nil
}

func stunURLs(servers []string) []string {
	out := make([]string, 0, len(servers))
	for _, st := range servers {
		if !strings.HasPrefix(st, "stun:") {
			st = "stun:" + st
		}
		out = append(out, st)
	}
	return out
}

// natRules rewrites host candidates to external addresses: "ext/local"
// maps one local address, a bare address every other one. With
// keepLocal the local candidates stay next to the rewritten ones.
func natRules(ips []string, keepLocal bool) []webrtc.ICEAddressRewriteRule {
	mode := webrtc.ICEAddressRewriteReplace
	if keepLocal {
		mode = webrtc.ICEAddressRewriteAppend
	}
	var rules []webrtc.ICEAddressRewriteRule
	var catchAll []string
	for _, ip := range ips {
		if ext, local, ok := strings.Cut(ip, "/"); ok {
			rules = append(rules, webrtc.ICEAddressRewriteRule{External: []string{ext}, Local: local, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: mode})
		} else {
			catchAll = append(catchAll, ip)
		}
	}
	if len(catchAll) > 0 {
		rules = append(rules, webrtc.ICEAddressRewriteRule{External: catchAll, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: mode})
	}
	return rules
}

// interfaceFilter keeps the included interfaces, or all but the excluded.
func interfaceFilter(f Filter) func(string) bool {
	switch {
	case len(f.Includes) > 0:
		return func(name string) bool { return slices.Contains(f.Includes, name) }
	case len(f.Excludes) > 0:
		return func(name string) bool { return !slices.Contains(f.Excludes, name) }
	}
	return nil
}

// networkFilter keeps the addresses in the included networks, or all but
// those in the excluded ones.
func networkFilter(f Filter) (func(net.IP) bool, error) {
	parse := func(key string, list []string) ([]*net.IPNet, error) {
		var nets []*net.IPNet
		for _, s := range list {
			n, err := parseNetwork(s)
			if err != nil {
				return nil, fmt.Errorf("rtc_config.ips.%s: %w", key, err)
			}
			nets = append(nets, n)
		}
		return nets, nil
	}
	in, err := parse("includes", f.Includes)
	if err != nil {
		return nil, err
	}
	out, err := parse("excludes", f.Excludes)
	if err != nil {
		return nil, err
	}
	contains := func(nets []*net.IPNet, ip net.IP) bool {
		return slices.ContainsFunc(nets, func(n *net.IPNet) bool { return n.Contains(ip) })
	}
	switch {
	case len(in) > 0:
		return func(ip net.IP) bool { return contains(in, ip) }, nil
	case len(out) > 0:
		return func(ip net.IP) bool { return !contains(out, ip) }, nil
	}
	return nil, nil
}

func parseNetwork(s string) (*net.IPNet, error) {
	if ip := net.ParseIP(s); ip != nil {
		bits := 128
		if v4 := ip.To4(); v4 != nil {
			ip, bits = v4, 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an address or a network (CIDR)", s)
	}
	return n, nil
}

// localIPs returns the addresses candidates may be gathered on: those of
// the up interfaces, without link-local ones, loopback only when asked,
// through the filters.
func localIPs(ifFilter func(string) bool, ipFilter func(net.IP) bool, loopback bool) ([]net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []net.IP
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || (iface.Flags&net.FlagLoopback != 0 && !loopback) {
			continue
		}
		if ifFilter != nil && !ifFilter(iface.Name) {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip := n.IP
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || (ip.IsLoopback() && !loopback) {
				continue
			}
			if ipFilter != nil && !ipFilter(ip) {
				continue
			}
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no local address left to gather candidates on (check rtc_config.interfaces and rtc_config.ips)")
	}
	return out, nil
}

// sharedUDP opens the shared UDP sockets: on each local address, the
// first ports of UDPPort..UDPPortEnd (one per CPU at most), and 3478 with
// UseSTUNPortAsICE.
func (s *Server) sharedUDP(ifFilter func(string) bool, ipFilter func(net.IP) bool) (ice.UDPMux, error) {
	c := s.ICE
	ips, err := localIPs(ifFilter, ipFilter, c.IncludeLoopback)
	if err != nil {
		return nil, err
	}
	ports := []int{c.UDPPort}
	for p := c.UDPPort + 1; p <= c.UDPPortEnd && len(ports) < runtime.NumCPU(); p++ {
		ports = append(ports, p)
	}
	log := s.settingsLogger("udp_mux")
	var conns []net.PacketConn
	m := &portsMux{}
	var all []ice.UDPMux
	fail := func(err error) (ice.UDPMux, error) {
		for _, mux := range all {
			_ = mux.Close() // and its socket
		}
		return nil, err
	}
	open := func(ip net.IP, port int, key string) (ice.UDPMux, error) {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			return nil, fmt.Errorf("rtc_config.%s %d: %w", key, port, err)
		}
		_ = conn.SetReadBuffer(udpSocketBuffer)
		_ = conn.SetWriteBuffer(udpSocketBuffer)
		var pc net.PacketConn = conn
		if c.BatchSize > 0 {
			pc = udp.NewBatchConn(conn, c.BatchSize, c.BatchFlushInterval)
		}
		conns = append(conns, pc)
		mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: log, UDPConn: pc})
		all = append(all, mux)
		return mux, nil
	}
	for _, ip := range ips {
		var addrs []net.Addr
		for _, port := range ports {
			mux, err := open(ip, port, "udp_port")
			if err != nil {
				return fail(err)
			}
			addrs = append(addrs, mux.GetListenAddresses()...)
		}
		m.byIP = append(m.byIP, addrs)
		if c.UseSTUNPortAsICE {
			mux, err := open(ip, stunPort, "use_stun_port_as_ice: port")
			if err != nil {
				return fail(err)
			}
			m.standalone = append(m.standalone, mux.GetListenAddresses()...)
		}
	}
	m.MultiUDPMuxDefault = ice.NewMultiUDPMuxDefault(all...)
	if !c.Development {
		s.checkReadBuffer(conns[0])
	}
	s.Logger.Infow("WHIP media shares UDP ports", "ports", ports, "addresses", len(ips), "stunPort", c.UseSTUNPortAsICE)
	return m, nil
}

// settingsLogger is a pion logger of the shared transport.
func (s *Server) settingsLogger(scope string) logging.LeveledLogger {
	return pionLoggers(s.Logger).NewLogger(scope)
}

// checkReadBuffer warns when the kernel gave a shared socket less receive
// buffer than a busy node needs: the media of every session queues there.
func (s *Server) checkReadBuffer(pc net.PacketConn) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		if bc, isBatch := pc.(*udp.BatchConn); isBatch {
			sc, ok = bc.PacketConn.(syscall.Conn)
		}
	}
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	size := -1
	_ = raw.Control(func(fd uintptr) { size, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) })
	if size >= 0 && size < minUDPReadBuffer {
		s.Logger.Warnw("UDP receive buffer too small for a busy WHIP node; raise net.core.rmem_max", nil, "current", size, "suggested", minUDPReadBuffer)
	}
}

// portsMux shares sockets on several ports: each session gets one port
// per local address (in turn, so the sessions spread over the ports),
// plus every standalone socket.
type portsMux struct {
	*ice.MultiUDPMuxDefault
	byIP       [][]net.Addr
	standalone []net.Addr
	next       atomic.Uint32
}

func (m *portsMux) GetListenAddresses() []net.Addr {
	n := int(m.next.Add(1))
	out := make([]net.Addr, 0, len(m.byIP)+len(m.standalone))
	for _, addrs := range m.byIP {
		out = append(out, addrs[n%len(addrs)])
	}
	return append(out, m.standalone...)
}

// externalMapping finds, through STUN, the external address of each local
// address (from the port the sessions will use), and returns the
// "external/local" mappings; with ExternalIPOnly, the IPv4 addresses
// without one are filtered out. Without any mapping the node's external
// address, asked from any local address, applies to all; start fails
// when STUN finds none.
func (s *Server) externalMapping(ifFilter func(string) bool, ipFilter func(net.IP) bool) ([]string, func(net.IP) bool, error) {
	c := s.ICE
	if len(c.STUNServers) == 0 {
		return nil, nil, errors.New("rtc_config.use_external_ip: no STUN server to ask")
	}
	ips, err := localIPs(ifFilter, ipFilter, c.IncludeLoopback)
	if err != nil {
		return nil, nil, err
	}
	var ports []int
	switch {
	case c.PortRangeStart != 0 && c.PortRangeEnd > c.PortRangeStart:
		for i := range 5 {
			ports = append(ports, c.PortRangeStart+(c.PortRangeEnd-c.PortRangeStart)*i/5)
		}
	case c.UDPPort > 0:
		ports = []int{c.UDPPort}
	default:
		ports = []int{0}
	}
	type mapping struct{ ext, local string }
	found := make(chan mapping, len(ips))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, ip := range ips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, port := range ports {
				ext, err := s.externalIP(ctx, &net.UDPAddr{IP: ip, Port: port})
				if errors.Is(err, syscall.EADDRINUSE) {
					continue
				}
				if err != nil {
					s.Logger.Infow("no external address for a local address", "local", ip.String(), "error", err.Error())
					return
				}
				found <- mapping{ext.String(), ip.String()}
				return
			}
		}()
	}
	go func() { wg.Wait(); close(found) }()
	byExt := map[string]string{}
	var mapped []string
	timeout := time.NewTimer(stunTimeout + validateTimeout)
	defer timeout.Stop()
collect:
	for {
		select {
		case m, ok := <-found:
			if !ok {
				break collect
			}
			if _, dup := byExt[m.ext]; dup {
				continue
			}
			byExt[m.ext] = m.local
			mapped = append(mapped, m.local)
			// The first answer sets the pace: the others get a second more.
			timeout.Reset(time.Second)
		case <-timeout.C:
			break collect
		}
	}
	cancel()
	wg.Wait()
	if len(byExt) == 0 {
		ext, err := s.externalIP(context.Background(), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("rtc_config.use_external_ip: could not find the external address through %v: %w", c.STUNServers, err)
		}
		s.Logger.Infow("WHIP host candidates carry the external address", "ip", ext.String())
		return []string{ext.String()}, nil, nil
	}
	var rules []string
	for ext, local := range byExt {
		rules = append(rules, ext+"/"+local)
	}
	for _, ip := range ips {
		if !slices.Contains(mapped, ip.String()) {
			rules = append(rules, ip.String()+"/"+ip.String())
		}
	}
	s.Logger.Infow("WHIP host candidates carry the external addresses", "mappings", rules)
	if !c.ExternalIPOnly {
		return rules, nil, nil
	}
	orig := ipFilter
	return rules, func(ip net.IP) bool {
		if ip.To4() == nil {
			return orig == nil || orig(ip)
		}
		return slices.ContainsFunc(mapped, func(m string) bool { return net.ParseIP(m).Equal(ip) })
	}, nil
}

// externalIP asks the STUN servers, in turn, for local's external address
// (any local address when nil) and, unless SkipExternalIPValidation,
// checks that a packet sent to it comes back to local.
func (s *Server) externalIP(ctx context.Context, local *net.UDPAddr) (net.IP, error) {
	c := s.ICE
	network := "udp"
	if c.RequireIPv4 {
		network = "udp4"
	}
	var err error
	for _, server := range c.STUNServers {
		var ip net.IP
		ip, err = stunMappedAddress(ctx, network, stunAddress(server), local)
		if err != nil {
			continue
		}
		if c.SkipExternalIPValidation || local == nil {
			return ip, nil
		}
		if err = validateExternal(ctx, ip, local); err == nil {
			return ip, nil
		}
	}
	return nil, err
}

// stunAddress is a stun_servers entry as host:port (3478 by default).
func stunAddress(s string) string {
	s = strings.TrimPrefix(s, "stun:")
	if _, _, err := net.SplitHostPort(s); err != nil {
		return net.JoinHostPort(s, "3478")
	}
	return s
}

// stunMappedAddress sends STUN binding requests from local to server
// until one is answered or stunTimeout passes, and returns the mapped
// address of the answer.
func stunMappedAddress(ctx context.Context, network, server string, local *net.UDPAddr) (net.IP, error) {
	raddr, err := net.ResolveUDPAddr(network, server)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP(network, local)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(stunTimeout)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := conn.WriteTo(req.Raw, raddr); err != nil {
			return nil, err
		}
		next := time.Now().Add(500 * time.Millisecond)
		if next.After(deadline) {
			next = deadline
		}
		_ = conn.SetReadDeadline(next)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				break // resend, or give up past the deadline
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() != nil || res.TransactionID != req.TransactionID {
				continue
			}
			var xor stun.XORMappedAddress
			if err := xor.GetFrom(res); err != nil {
				return nil, fmt.Errorf("STUN answer from %s: %w", server, err)
			}
			return xor.IP, nil
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("no STUN answer from %s in %v", server, stunTimeout)
}

// validateExternal checks that ext leads back to local: a packet sent to
// ext, at local's port, must arrive there.
func validateExternal(ctx context.Context, ext net.IP, local *net.UDPAddr) error {
	srv, err := net.ListenUDP("udp", local)
	if err != nil {
		return err
	}
	defer srv.Close()
	cli, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: ext, Port: srv.LocalAddr().(*net.UDPAddr).Port})
	if err != nil {
		return err
	}
	defer cli.Close()
	var token [16]byte
	id := stun.NewTransactionID()
	copy(token[:], id[:])
	if _, err := cli.Write(token[:]); err != nil {
		return err
	}
	_ = srv.SetReadDeadline(time.Now().Add(validateTimeout))
	stop := context.AfterFunc(ctx, func() { _ = srv.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 64)
	for {
		n, err := srv.Read(buf)
		if err != nil {
			return fmt.Errorf("the external address %s does not lead back to %s: %w", ext, local, err)
		}
		if n == len(token) && string(buf[:n]) == string(token[:]) {
			return nil
		}
	}
}
