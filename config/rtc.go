package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// RTCConfig holds the WebRTC transport settings used by the WHIP input. The
// keys are those of the official worker's rtc_config section (LiveKit's
// rtcconfig), declared here so that the config package does not pull the
// whole WebRTC stack of that module into every build.
type RTCConfig struct {
	UDPPort                  PortRange     `yaml:"udp_port"`
	TCPPort                  uint32        `yaml:"tcp_port"`
	ICEPortRangeStart        uint32        `yaml:"port_range_start"`
	ICEPortRangeEnd          uint32        `yaml:"port_range_end"`
	UseStunPortAsICE         bool          `yaml:"use_stun_port_as_ice"`
	NodeIP                   string        `yaml:"node_ip"`
	STUNServers              []string      `yaml:"stun_servers"`
	UseExternalIP            bool          `yaml:"use_external_ip"`
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
	ForceTCP                 bool          `yaml:"force_tcp"`
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
