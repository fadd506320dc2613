package whip

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// ICE timeouts: a client gone without DELETE is noticed within seconds.
const (
	iceDisconnectedTimeout = 5 * time.Second
	iceFailedTimeout       = 10 * time.Second
	iceKeepalive           = 2 * time.Second
)

// Feedback the endpoint gives on received video: NACK for loss, PLI/FIR
// for keyframes, and transport-wide congestion control (with REMB for
// clients without it) so the client's bandwidth estimate rises and a
// browser enables its higher simulcast layers.
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
}

// receivable codecs: passthrough forwards them as they are, so only what
// a LiveKit room carries is registered.
func registerCodecs(m *webrtc.MediaEngine) error {
	codecs := []struct {
		c    webrtc.RTPCodecCapability
		pt   webrtc.PayloadType
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, 111, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback}, 96, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, 102, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"}, 104, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"}, 106, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"}, 108, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, RTCPFeedback: videoFeedback, SDPFmtpLine: "profile-id=0"}, 98, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, RTCPFeedback: videoFeedback, SDPFmtpLine: "profile-id=2"}, 100, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000, RTCPFeedback: videoFeedback}, 45, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: c.c, PayloadType: c.pt}, c.kind); err != nil {
			return fmt.Errorf("register %s: %w", c.c.MimeType, err)
		}
	}
	return nil
}

// newAPI builds the pion API shared by every session: codecs, the default
// interceptors (NACK generator, receiver reports, TWCC feedback, simulcast
// RID header extensions) and the ICE settings.
func (s *Server) newAPI() error {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return err
	}
	// The client's audio level (RFC 6464) is passed on to LiveKit, whose
	// active-speaker detection reads it.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("whip audio level extension: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return fmt.Errorf("whip interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetICETimeouts(iceDisconnectedTimeout, iceFailedTimeout, iceKeepalive)
	c := s.ICE
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	switch {
	case c.UDPPort > 0:
		conn, err := net.ListenUDP("udp", &net.UDPAddr{Port: c.UDPPort})
		if err != nil {
			return fmt.Errorf("rtc_config.udp_port %d: %w", c.UDPPort, err)
		}
		s.udpMux = webrtc.NewICEUDPMux(nil, conn)
		se.SetICEUDPMux(s.udpMux)
	case c.UDPPortMin > 0 && c.UDPPortMax >= c.UDPPortMin:
		if err := se.SetEphemeralUDPPortRange(uint16(c.UDPPortMin), uint16(c.UDPPortMax)); err != nil {
			return fmt.Errorf("rtc_config port range: %w", err)
		}
	}
	if c.TCPPort > 0 {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{Port: c.TCPPort})
		if err != nil {
			return fmt.Errorf("rtc_config.tcp_port %d: %w", c.TCPPort, err)
		}
		s.tcpMux = webrtc.NewICETCPMux(nil, ln, 8)
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
		if c.ForceTCP {
			networks = []webrtc.NetworkType{webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6}
		}
	}
	se.SetNetworkTypes(networks)
	if len(c.NodeIPs) > 0 {
		se.SetNAT1To1IPs(c.NodeIPs, webrtc.ICECandidateTypeHost)
	}
	if c.IncludeLoopback {
		se.SetIncludeLoopbackCandidate(true)
	}
	if len(c.IPs) > 0 {
		filter, err := ipFilter(c.IPs)
		if err != nil {
			return err
		}
		se.SetIPFilter(filter)
	}
	s.api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return nil
}

func ipFilter(list []string) (func(net.IP) bool, error) {
	var nets []*net.IPNet
	for _, s := range list {
		if !strings.Contains(s, "/") {
			if ip := net.ParseIP(s); ip != nil {
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				s = fmt.Sprintf("%s/%d", s, bits)
			}
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("rtc_config.ips: %q is not an address or a network: %w", s, err)
		}
		nets = append(nets, n)
	}
	return func(ip net.IP) bool {
		for _, n := range nets {
			if n.Contains(ip) {
				return true
			}
		}
		return false
	}, nil
}

func (s *Server) iceServers() []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, st := range s.ICE.STUNServers {
		if !strings.HasPrefix(st, "stun:") {
			st = "stun:" + st
		}
		out = append(out, webrtc.ICEServer{URLs: []string{st}})
	}
	return out
}
