package config

import (
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultUDPPort is the UDP port every WHIP session's media shares when
// rtc_config sets neither udp_port nor port_range_start, as in the official
// worker: one firewall rule admits all WebRTC media.
const DefaultUDPPort = 7885

// DefaultSTUNServers are asked when rtc_config needs STUN (use_external_ip,
// or server-reflexive candidates without node_ip) and sets no stun_servers,
// the same servers LiveKit's WebRTC settings use.
var DefaultSTUNServers = []string{"global.stun.twilio.com:3478", "stun.l.google.com:19302", "stun1.l.google.com:19302"}

// RTCConfig holds the WebRTC transport settings used by the WHIP input. The
// keys are those of the official worker's rtc_config section (LiveKit's
// rtcconfig), with the same meaning; they are declared here so that the
// config package does not pull the WebRTC stack into every build.
type RTCConfig struct {
	// UDPPort is one port ("7885") or a range ("7885-7890"): every session
	// shares one socket per local address on it (on a range, up to one
	// port per CPU, sessions spread over them).
	UDPPort PortRange `yaml:"udp_port"`
	TCPPort uint32    `yaml:"tcp_port"`
	// ICEPortRangeStart..ICEPortRangeEnd give each session its own UDP
	// port from the range; when both are set they win over udp_port.
	ICEPortRangeStart        uint32        `yaml:"port_range_start"`
	ICEPortRangeEnd          uint32        `yaml:"port_range_end"`
	UseStunPortAsICE         bool          `yaml:"use_stun_port_as_ice"`
	NodeIP                   string        `yaml:"node_ip"`
	STUNServers              []string      `yaml:"stun_servers"`
	UseExternalIP            bool          `yaml:"use_external_ip"`
	RequireIPv4              bool          `yaml:"require_ipv4"`
	SkipExternalIPValidation bool          `yaml:"skip_external_ip_validation"`
	AdvertiseInternalIP      bool          `yaml:"advertise_internal_ip"`
	UseICELite               bool          `yaml:"use_ice_lite"`
	Interfaces               IncludeList   `yaml:"interfaces"`
	IPs                      IncludeList   `yaml:"ips"`
	EnableLoopbackCandidate  bool          `yaml:"enable_loopback_candidate"`
	UseMDNS                  bool          `yaml:"use_mdns"`
	ExternalIPOnly           bool          `yaml:"external_ip_only"`
	BatchIO                  BatchIOConfig `yaml:"batch_io"`
	SCTPMinCwnd              int           `yaml:"sctp_min_cwnd"`
	SCTPFastRtxWnd           int           `yaml:"sctp_fast_rtx_wnd"`
	SCTPCwndCAStep           int           `yaml:"sctp_cwnd_ca_step"`
	HostAcceptanceMinWait    time.Duration `yaml:"host_acceptance_min_wait"`
	SrflxAcceptanceMinWait   time.Duration `yaml:"srflx_acceptance_min_wait"`
	PrflxAcceptanceMinWait   time.Duration `yaml:"prflx_acceptance_min_wait"`
	RelayAcceptanceMinWait   time.Duration `yaml:"relay_acceptance_min_wait"`
	ForceTCP                 bool          `yaml:"force_tcp"`

	// udpPortDefaulted: UDPPort is DefaultUDPPort because neither
	// udp_port nor port_range_start was set.
	udpPortDefaulted bool
}

// UDPMux reports whether the sessions share the udp_port socket(s), and
// PortRange whether each takes its own port from port_range_start..end:
// the range wins when both are set, as in the official worker.
func (r *RTCConfig) UDPMux() bool { return !r.ForceTCP && !r.PortRange() && r.UDPPort.Start > 0 }

// PortRange: see UDPMux.
func (r *RTCConfig) PortRange() bool {
	return !r.ForceTCP && r.ICEPortRangeStart != 0 && r.ICEPortRangeEnd != 0
}

// NodeIPs returns node_ip's addresses: one IPv4, one IPv6, or both
// separated by a comma.
func (r *RTCConfig) NodeIPs() ([]string, error) {
	if strings.TrimSpace(r.NodeIP) == "" {
		return nil, nil
	}
	parts := strings.Split(r.NodeIP, ",")
	if len(parts) > 2 {
		return nil, fmt.Errorf("%q: at most one IPv4 and one IPv6 address, separated by a comma", r.NodeIP)
	}
	var v4, v6 string
	for _, p := range parts {
		ip := net.ParseIP(strings.TrimSpace(p))
		switch {
		case ip == nil:
			return nil, fmt.Errorf("%q is not an IP address", strings.TrimSpace(p))
		case ip.To4() != nil && v4 == "":
			v4 = ip.String()
		case ip.To4() == nil && v6 == "":
			v6 = ip.String()
		default:
			return nil, fmt.Errorf("%q: at most one IPv4 and one IPv6 address", r.NodeIP)
		}
	}
	var out []string
	for _, s := range []string{v4, v6} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// STUN returns the STUN servers asked: stun_servers, or
// DefaultSTUNServers.
func (r *RTCConfig) STUN() []string {
	if len(r.STUNServers) > 0 {
		return r.STUNServers
	}
	return DefaultSTUNServers
}

// ICESTUN reports whether the sessions gather server-reflexive candidates
// through STUN, as LiveKit's WebRTC settings do: not with ICE lite, not
// when node_ip names the address, not with use_external_ip (whose address
// rewriting replaces them).
func (r *RTCConfig) ICESTUN() bool {
	return !r.UseICELite && strings.TrimSpace(r.NodeIP) == "" && !r.UseExternalIP
}

// validate checks the rtc_config keys, naming the first one that is wrong.
func (r *RTCConfig) validate() error {
	u := r.UDPPort
	if u.Start < 0 || u.Start > 65535 || u.End > 65535 {
		return &Error{Key: "rtc_config.udp_port", Reason: fmt.Sprintf("ports must be in 1-65535 (got %d-%d)", u.Start, u.End)}
	}
	for _, p := range []struct {
		key string
		v   uint32
	}{{"rtc_config.tcp_port", r.TCPPort}, {"rtc_config.port_range_start", r.ICEPortRangeStart}, {"rtc_config.port_range_end", r.ICEPortRangeEnd}} {
		if p.v > 65535 {
			return &Error{Key: p.key, Reason: fmt.Sprintf("must be at most 65535 (got %d)", p.v)}
		}
	}
	if r.PortRange() && r.ICEPortRangeEnd < r.ICEPortRangeStart {
		return &Error{Key: "rtc_config.port_range_end", Reason: fmt.Sprintf("%d is below port_range_start %d", r.ICEPortRangeEnd, r.ICEPortRangeStart)}
	}
	if r.ForceTCP && r.TCPPort == 0 {
		return &Error{Key: "rtc_config.force_tcp", Reason: "needs rtc_config.tcp_port: with TCP forced and no TCP port no candidate could be gathered"}
	}
	if _, err := r.NodeIPs(); err != nil {
		return &Error{Key: "rtc_config.node_ip", Reason: err.Error()}
	}
	for _, l := range []struct {
		key  string
		list []string
	}{{"rtc_config.ips.includes", r.IPs.Includes}, {"rtc_config.ips.excludes", r.IPs.Excludes}} {
		for _, s := range l.list {
			if _, err := parseNetwork(s); err != nil {
				return &Error{Key: l.key, Reason: err.Error()}
			}
		}
	}
	if r.BatchIO.BatchSize < 0 {
		return &Error{Key: "rtc_config.batch_io.batch_size", Reason: fmt.Sprintf("must not be negative (got %d)", r.BatchIO.BatchSize)}
	}
	if r.BatchIO.BatchSize > 0 && r.BatchIO.MaxFlushInterval <= 0 {
		return &Error{Key: "rtc_config.batch_io.max_flush_interval", Reason: "must be a positive duration (e.g. 2ms) when batch_size is set"}
	}
	for i, s := range r.STUNServers {
		if strings.TrimSpace(strings.TrimPrefix(s, "stun:")) == "" {
			return &Error{Key: fmt.Sprintf("rtc_config.stun_servers[%d]", i), Reason: "empty: a STUN server is host or host:port (port 3478 by default)"}
		}
	}
	return nil
}

// noEffect lists the rtc_config keys that are set but do nothing with
// the rest of the section, as in the official worker (where they are
// ignored silently), with the reason.
func (r *RTCConfig) noEffect(whip bool) [][2]string {
	var out [][2]string
	add := func(key, why string) { out = append(out, [2]string{"rtc_config." + key, why}) }
	if !whip {
		if !reflect.ValueOf(*r).IsZero() {
			out = append(out, [2]string{"rtc_config", "WHIP is disabled (whip_port: -1); rtc_config only configures WHIP media"})
		}
		return out
	}
	if r.UDPPort.Start > 0 && r.PortRange() {
		add("udp_port", fmt.Sprintf("port_range_start/port_range_end win over it, as in the official worker: each session takes its own port in %d-%d", r.ICEPortRangeStart, r.ICEPortRangeEnd))
	}
	switch {
	case r.ICEPortRangeStart != 0 && r.ICEPortRangeEnd == 0:
		add("port_range_start", "needs port_range_end too, so no range is used: the sessions share udp_port if it is set, else each takes any free UDP port (as in the official worker)")
	case r.ICEPortRangeStart == 0 && r.ICEPortRangeEnd != 0:
		add("port_range_end", fmt.Sprintf("needs port_range_start too, so no range is used: the sessions share udp_port %s", r.UDPPort))
	}
	if r.ForceTCP && ((r.UDPPort.Start > 0 && !r.udpPortDefaulted) || r.ICEPortRangeStart > 0) {
		add("udp_port", "force_tcp: true gathers TCP candidates only; no UDP port is opened")
	}
	if !r.UDPMux() {
		if r.BatchIO.BatchSize > 0 {
			add("batch_io", "batches the writes of the shared udp_port sockets; sessions with ports of their own (port_range_start/end, force_tcp) write unbatched")
		}
		if r.UseStunPortAsICE {
			add("use_stun_port_as_ice", "adds port 3478 to the shared udp_port sockets; there are none with port_range_start/end or force_tcp")
		}
	}
	if !r.UseExternalIP {
		if r.ExternalIPOnly {
			add("external_ip_only", "restricts candidates to the addresses use_external_ip maps; use_external_ip is off")
		}
		if r.SkipExternalIPValidation {
			add("skip_external_ip_validation", "skips the check of the address use_external_ip finds; use_external_ip is off")
		}
		if r.RequireIPv4 {
			add("require_ipv4", "makes use_external_ip's STUN discovery find an IPv4 address; use_external_ip is off")
		}
		if r.AdvertiseInternalIP && strings.TrimSpace(r.NodeIP) == "" {
			add("advertise_internal_ip", "keeps the local candidates next to node_ip's or use_external_ip's; neither is set")
		}
	}
	if len(r.STUNServers) > 0 && !r.UseExternalIP && !r.ICESTUN() {
		why := "node_ip names the address, so sessions gather no server-reflexive candidates (as in the official worker)"
		if r.UseICELite {
			why = "an ICE lite endpoint gathers no server-reflexive candidates"
		}
		add("stun_servers", why)
	}
	return out
}

// parseNetwork parses an rtc_config.ips entry: a network in CIDR notation,
// or one address.
func parseNetwork(s string) (*net.IPNet, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an address or a network (CIDR)", s)
		}
		bits := 128
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an address or a network (CIDR)", s)
	}
	return n, nil
}

// IncludeList filters interfaces or IPs.
type IncludeList struct {
	Includes []string `yaml:"includes"`
	Excludes []string `yaml:"excludes"`
}

// BatchIOConfig tunes batched UDP I/O.
type BatchIOConfig struct {
	BatchSize        int           `yaml:"batch_size"`
	MaxFlushInterval time.Duration `yaml:"max_flush_interval"`
}

// PortRange is a single port ("7885") or a range ("50000-60000").
type PortRange struct {
	Start int
	End   int
}

func (r PortRange) String() string {
	if r.End == 0 {
		return strconv.Itoa(r.Start)
	}
	return fmt.Sprintf("%d-%d", r.Start, r.End)
}

// UnmarshalYAML accepts "7885", 7885 or "50000-60000".
func (r *PortRange) UnmarshalYAML(value *yaml.Node) error {
	if err := r.UnmarshalString(value.Value); err != nil {
		return fmt.Errorf("line %d: %w", value.Line, err)
	}
	return nil
}

// UnmarshalString parses the textual form.
func (r *PortRange) UnmarshalString(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	start, end, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(strings.TrimSpace(start))
	if err != nil {
		return fmt.Errorf("invalid port %q", start)
	}
	r.Start = a
	if !isRange {
		return nil
	}
	b, err := strconv.Atoi(strings.TrimSpace(end))
	if err != nil {
		return fmt.Errorf("invalid end port %q", end)
	}
	if b <= a {
		return fmt.Errorf("end port %d must be greater than start port %d", b, a)
	}
	r.End = b
	return nil
}
