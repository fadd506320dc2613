package whip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// loopbackICE is an ICEConfig that gathers on 127.0.0.1 only.
func loopbackICE() ICEConfig {
	return ICEConfig{IncludeLoopback: true, IPs: Filter{Includes: []string{"127.0.0.1"}}, Development: true}
}

func startServerWith(t *testing.T, ice ICEConfig) (*Server, *dummyAuthorizer, string) {
	t.Helper()
	a := &dummyAuthorizer{}
	s := &Server{Address: "127.0.0.1:0", Authorizer: a, ICE: ice}
	require.NoError(t, s.Initialize())
	t.Cleanup(s.Close)
	return s, a, "http://" + s.Addr().String()
}

// publish posts a pion client's offer and returns the answer.
func publish(t *testing.T, base string) (*client, string) {
	t.Helper()
	c := newClient(t)
	res, answer := do(t, "POST", base+"/w/good", map[string]string{"Content-Type": "application/sdp"}, c.offer(t))
	require.Equal(t, http.StatusCreated, res.StatusCode, answer)
	require.NoError(t, c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	return c, answer
}

// sendUntilReceived writes VP8 keyframes until the publisher has a packet.
func sendUntilReceived(t *testing.T, c *client, pub *dummyPublisher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	key := []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0, 0, 0, 0}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-pub.video:
			return
		case <-tick.C:
			_ = c.video.WriteSample(pmedia.Sample{Data: key, Duration: 33 * time.Millisecond})
		case <-ctx.Done():
			t.Fatalf("no video packet reached %s", pub.id)
		}
	}
}

// TestSharedUDPPort: with udp_port, concurrent sessions all answer with
// host candidates on that one port, and the media of each reaches its
// publisher through the shared socket; batch_io batches its writes
// without changing that.
func TestSharedUDPPort(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch_io=%v", batch), func(t *testing.T) {
			ice := loopbackICE()
			ice.UDPPort = freeUDPPort(t)
			if batch {
				ice.BatchSize, ice.BatchFlushInterval = 8, 2*time.Millisecond
			}
			_, a, base := startServerWith(t, ice)
			const sessions = 4
			clients := make([]*client, sessions)
			for i := range sessions {
				var answer string
				clients[i], answer = publish(t, base)
				cands := testutil.Candidates(t, answer)
				require.NotEmpty(t, cands)
				for _, c := range cands {
					require.Equal(t, testutil.Candidate{Transport: "udp", Addr: "127.0.0.1", Port: ice.UDPPort, Type: "host"}, c)
				}
			}
			for i, c := range clients {
				sendUntilReceived(t, c, a.pubs[i])
			}
		})
	}
}

// TestPortRangeWins: port_range_start/end give each session a port of
// its own from the range and win over udp_port, which is then not opened.
func TestPortRangeWins(t *testing.T) {
	ice := loopbackICE()
	ice.UDPPort = freeUDPPort(t)
	ice.PortRangeStart, ice.PortRangeEnd = 41000, 41999
	_, a, base := startServerWith(t, ice)
	ports := map[int]bool{}
	var clients []*client
	for range 2 {
		c, answer := publish(t, base)
		clients = append(clients, c)
		for _, cand := range testutil.Candidates(t, answer) {
			require.GreaterOrEqual(t, cand.Port, 41000)
			require.LessOrEqual(t, cand.Port, 41999)
			ports[cand.Port] = true
		}
	}
	require.Len(t, ports, 2, "one port per session")
	for i, c := range clients {
		sendUntilReceived(t, c, a.pubs[i])
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ice.UDPPort})
	require.NoError(t, err, "udp_port is not opened when the range wins")
	_ = conn.Close()
}

// TestUDPPortRange: a udp_port range shares up to one port per CPU, the
// sessions taking them in turn.
func TestUDPPortRange(t *testing.T) {
	ice := loopbackICE()
	ice.UDPPort = freeUDPPort(t)
	ice.UDPPortEnd = ice.UDPPort + 5
	_, _, base := startServerWith(t, ice)
	want := min(runtime.NumCPU(), 6)
	seen := map[int]bool{}
	for range want {
		_, answer := publish(t, base)
		ports := map[int]bool{}
		for _, c := range testutil.Candidates(t, answer) {
			require.GreaterOrEqual(t, c.Port, ice.UDPPort)
			require.Less(t, c.Port, ice.UDPPort+want)
			ports[c.Port] = true
			seen[c.Port] = true
		}
		require.Len(t, ports, 1, "one port per session and address: %s", answer)
	}
	require.Len(t, seen, want, "the sessions spread over the ports")
}

// TestNodeIP: node_ip replaces the host candidates' address, or joins it
// with advertise_internal_ip.
func TestNodeIP(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("advertise_internal_ip=%v", keep), func(t *testing.T) {
			ice := loopbackICE()
			ice.UDPPort = freeUDPPort(t)
			ice.NodeIPs = []string{"203.0.113.7"}
			ice.AdvertiseInternalIP = keep
			_, _, base := startServerWith(t, ice)
			_, answer := publish(t, base)
			addrs := map[string]bool{}
			for _, c := range testutil.Candidates(t, answer) {
				addrs[c.Addr] = true
				require.Equal(t, ice.UDPPort, c.Port)
			}
			require.True(t, addrs["203.0.113.7"], answer)
			require.Equal(t, keep, addrs["127.0.0.1"], answer)
		})
	}
}

// TestCandidateFilters: interfaces and ips (includes or excludes) choose
// the addresses candidates are gathered on.
func TestCandidateFilters(t *testing.T) {
	lo := loopbackName(t)
	for _, c := range []struct {
		name       string
		interfaces Filter
		ips        Filter
		wantLo     bool
	}{
		{"interfaces.includes", Filter{Includes: []string{lo}}, Filter{}, true},
		{"interfaces.excludes", Filter{Excludes: []string{lo}}, Filter{}, false},
		{"ips.includes", Filter{}, Filter{Includes: []string{"127.0.0.0/8"}}, true},
		{"ips.excludes", Filter{}, Filter{Excludes: []string{"127.0.0.1"}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ice := ICEConfig{IncludeLoopback: true, Interfaces: c.interfaces, IPs: c.ips, Development: true}
			ice.UDPPort = freeUDPPort(t)
			s, _, base := startServerWith(t, ice)
			_, answer := publish(t, base)
			var hasLo bool
			for _, cand := range testutil.Candidates(t, answer) {
				hasLo = hasLo || cand.Addr == "127.0.0.1"
			}
			require.Equal(t, c.wantLo, hasLo, answer)
			var muxLo bool
			for _, a := range s.udpMux.GetListenAddresses() {
				muxLo = muxLo || a.(*net.UDPAddr).IP.Equal(net.IPv4(127, 0, 0, 1))
			}
			require.Equal(t, c.wantLo, muxLo, "the shared sockets follow the filters too")
		})
	}
}

func loopbackName(t *testing.T) string {
	t.Helper()
	ifaces, err := net.Interfaces()
	require.NoError(t, err)
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Name
		}
	}
	t.Fatal("no loopback interface")
	return ""
}

// TestForceTCP: force_tcp with tcp_port answers with TCP candidates only.
func TestForceTCP(t *testing.T) {
	ice := loopbackICE()
	ice.ForceTCP = true
	ice.TCPPort = freeTCPPort(t)
	_, _, base := startServerWith(t, ice)
	_, answer := publish(t, base)
	cands := testutil.Candidates(t, answer)
	require.NotEmpty(t, cands)
	for _, c := range cands {
		require.Equal(t, "tcp", c.Transport, answer)
		require.Equal(t, ice.TCPPort, c.Port)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestICELite: use_ice_lite answers as an ICE lite endpoint, and asks no
// STUN server.
func TestICELite(t *testing.T) {
	ice := loopbackICE()
	ice.UDPPort = freeUDPPort(t)
	ice.UseICELite = true
	ice.STUNServers = []string{"127.0.0.1:1"}
	s, _, base := startServerWith(t, ice)
	require.Empty(t, s.iceServers)
	c, answer := publish(t, base)
	require.Contains(t, answer, "a=ice-lite")
	select {
	case <-c.connected:
	case <-time.After(20 * time.Second):
		t.Fatal("the client did not connect to the ICE lite endpoint")
	}
}

// TestMDNS: without use_mdns the client's .local candidates are not
// resolved (multicast DNS off, as in the official worker); with it they
// are.
func TestMDNS(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := loopbackICE()
		cfg.UseMDNS = on
		s, _, _ := startServerWith(t, cfg)
		// Left unset, pion queries the client's .local names.
		got := reflect.ValueOf(s.settings).FieldByName("candidates").FieldByName("MulticastDNSMode").Uint()
		require.Equal(t, !on, got == uint64(ice.MulticastDNSModeDisabled), "use_mdns=%v", on)
	}
}

// stunResponder answers STUN binding requests from loopback addresses
// with a fixed mapped address, as a STUN server behind which the node had
// that address; requests from other addresses go unanswered.
func stunResponder(t *testing.T, mapped net.IP) string {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { _ = conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			if !from.(*net.UDPAddr).IP.IsLoopback() {
				continue
			}
			port := from.(*net.UDPAddr).Port
			res, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: mapped, Port: port})
			if err == nil {
				_, _ = conn.WriteTo(res.Raw, from)
			}
		}
	}()
	return conn.LocalAddr().String()
}

// TestUseExternalIP: use_external_ip asks the STUN servers for the
// external address of each local address and rewrites the host
// candidates to it; an external address that does not lead back fails
// the check unless skip_external_ip_validation, and then applies to every
// local address.
func TestUseExternalIP(t *testing.T) {
	ext := net.IPv4(198, 51, 100, 9)
	for _, skip := range []bool{true, false} {
		t.Run(fmt.Sprintf("skip_external_ip_validation=%v", skip), func(t *testing.T) {
			ice := loopbackICE()
			ice.UDPPort = freeUDPPort(t)
			ice.UseExternalIP = true
			ice.SkipExternalIPValidation = skip
			ice.STUNServers = []string{stunResponder(t, ext)}
			s, _, base := startServerWith(t, ice)
			require.Empty(t, s.iceServers, "no server-reflexive candidates with use_external_ip")
			_, answer := publish(t, base)
			cands := testutil.Candidates(t, answer)
			require.NotEmpty(t, cands)
			for _, c := range cands {
				require.Equal(t, ext.String(), c.Addr, answer)
				require.Equal(t, ice.UDPPort, c.Port)
			}
		})
	}
}

// TestExternalIPOnly: with external_ip_only, only the IPv4 addresses
// that have an external mapping gather candidates.
func TestExternalIPOnly(t *testing.T) {
	ice := ICEConfig{IncludeLoopback: true, Development: true, UseExternalIP: true, ExternalIPOnly: true, SkipExternalIPValidation: true}
	ice.UDPPort = freeUDPPort(t)
	// Only 127.0.0.1 reaches the test's STUN server; other local
	// addresses get no answer and are left out.
	ice.STUNServers = []string{stunResponder(t, net.IPv4(198, 51, 100, 10))}
	s, _, _ := startServerWith(t, ice)
	for _, a := range s.udpMux.GetListenAddresses() {
		ip := a.(*net.UDPAddr).IP
		if ip.To4() != nil {
			require.True(t, ip.IsLoopback(), "%s has no external mapping", ip)
		}
	}
}

// TestSTUNServers: without node_ip or use_external_ip, stun_servers give
// server-reflexive candidates, as in the official worker.
func TestSTUNServers(t *testing.T) {
	ice := loopbackICE()
	ice.PortRangeStart, ice.PortRangeEnd = 42000, 42999
	ice.STUNServers = []string{stunResponder(t, net.IPv4(198, 51, 100, 11))}
	_, _, base := startServerWith(t, ice)
	_, answer := publish(t, base)
	var srflx bool
	for _, c := range testutil.Candidates(t, answer) {
		srflx = srflx || (c.Type == "srflx" && c.Addr == "198.51.100.11")
	}
	require.True(t, srflx, answer)
}

// TestSharedUDPPortInUse: a udp_port another process holds fails the
// start, naming the key.
func TestSharedUDPPortInUse(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer conn.Close()
	ice := loopbackICE()
	ice.UDPPort = conn.LocalAddr().(*net.UDPAddr).Port
	s := &Server{Address: "127.0.0.1:0", Authorizer: &dummyAuthorizer{}, ICE: ice}
	err = s.Initialize()
	require.ErrorContains(t, err, fmt.Sprintf("rtc_config.udp_port %d", ice.UDPPort))
}

// TestReplayedPacketsDelivered: a packet the client sends again with its
// old sequence number (Firefox probes bandwidth so, on the media stream)
// reaches the session instead of being dropped as an SRTP replay.
func TestReplayedPacketsDelivered(t *testing.T) {
	_, a, base := startServer(t)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "s")
	require.NoError(t, err)
	c := newClientWith(t, track)
	res, answer := do(t, "POST", base+"/w/good", map[string]string{"Content-Type": "application/sdp"}, c.offer(t))
	require.Equal(t, http.StatusCreated, res.StatusCode, answer)
	require.NoError(t, c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	pub := a.pubs[0]

	key := []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0, 0, 0, 0}
	seq := uint16(1000)
	send := func(n uint16) {
		require.NoError(t, track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true,
			SequenceNumber: n, Timestamp: uint32(n) * 3000}, Payload: key}))
	}
	// Until the transport is up, packets are lost: send until one arrives.
	sendUntil := func(what string, done func([]uint16) bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !done(pub.videoSeqs()) {
			select {
			case <-tick.C:
				send(seq)
				seq++
			case <-ctx.Done():
				t.Fatalf("%s: received %v", what, pub.videoSeqs())
			}
		}
	}
	sendUntil("no video packet arrived", func(s []uint16) bool { return len(s) > 0 })
	for range 5 {
		send(seq)
		seq++
	}
	old := seq - 3
	send(old)
	last := seq
	sendUntil("the packets after the replayed one did not arrive", func(s []uint16) bool { return slices.Contains(s, last) })
	count := 0
	for _, n := range pub.videoSeqs() {
		if n == old {
			count++
		}
	}
	require.Equal(t, 2, count, "packet %d sent twice reaches the session twice: %v", old, pub.videoSeqs())
}
