package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRTCDefaults: WHIP media shares UDP port 7885 unless rtc_config
// asks for a port or a range, as in the official worker; without WHIP no
// port is set.
func TestRTCDefaults(t *testing.T) {
	c, err := Parse([]byte(base), env(nil))
	require.NoError(t, err)
	require.Equal(t, PortRange{Start: DefaultUDPPort}, c.RTCConfig.UDPPort)
	require.True(t, c.RTCConfig.UDPMux())
	require.Empty(t, c.NoEffect())
	require.Equal(t, DefaultSTUNServers, c.RTCConfig.STUN())
	require.True(t, c.RTCConfig.ICESTUN())

	c, err = Parse([]byte(base+"rtc_config:\n  port_range_start: 50000\n  port_range_end: 60000\n"), env(nil))
	require.NoError(t, err)
	require.Zero(t, c.RTCConfig.UDPPort.Start, "a port range replaces the default port")
	require.True(t, c.RTCConfig.PortRange())
	require.False(t, c.RTCConfig.UDPMux())
	require.Empty(t, c.NoEffect())

	c, err = Parse([]byte(base+"whip_port: -1\n"), env(nil))
	require.NoError(t, err)
	require.Zero(t, c.RTCConfig.UDPPort.Start)
	require.Empty(t, c.NoEffect())

	c, err = Parse([]byte(base+"rtc_config:\n  udp_port: 7000-7003\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, PortRange{Start: 7000, End: 7003}, c.RTCConfig.UDPPort)
	require.True(t, c.RTCConfig.UDPMux())
}

// TestRTCRangeWins: with both udp_port and a port range, the range wins
// (as in the official worker) and udp_port is named as having no effect.
func TestRTCRangeWins(t *testing.T) {
	c, err := Parse([]byte(base+"rtc_config:\n  udp_port: 7885\n  port_range_start: 50000\n  port_range_end: 50100\n"), env(nil))
	require.NoError(t, err)
	require.True(t, c.RTCConfig.PortRange())
	require.False(t, c.RTCConfig.UDPMux())
	require.Equal(t, [][2]string{{"rtc_config.udp_port", "port_range_start/port_range_end win over it, as in the official worker: each session takes its own port in 50000-50100"}}, c.NoEffect())
}

func TestRTCNodeIPs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"203.0.113.7", []string{"203.0.113.7"}, ""},
		{"2001:db8::1, 203.0.113.7", []string{"203.0.113.7", "2001:db8::1"}, ""},
		{"203.0.113.7,203.0.113.8", nil, "at most one IPv4 and one IPv6"},
		{"a,b,c", nil, "at most one IPv4 and one IPv6"},
		{"node.example", nil, `"node.example" is not an IP address`},
	} {
		r := RTCConfig{NodeIP: c.in}
		got, err := r.NodeIPs()
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
	}
}

// TestRTCRefused: bad rtc_config values are refused at start, naming the
// key.
func TestRTCRefused(t *testing.T) {
	for _, c := range []struct {
		body, key, reason string
	}{
		{"rtc_config:\n  port_range_start: 60000\n  port_range_end: 50000\n", "rtc_config.port_range_end", "60000"},
		{"rtc_config:\n  port_range_start: 70000\n  port_range_end: 80000\n", "rtc_config.port_range_start", "at most 65535"},
		{"rtc_config:\n  udp_port: 70000\n", "rtc_config.udp_port", "1-65535"},
		{"rtc_config:\n  force_tcp: true\n", "rtc_config.force_tcp", "needs rtc_config.tcp_port"},
		{"rtc_config:\n  node_ip: node.example\n", "rtc_config.node_ip", "not an IP address"},
		{"rtc_config:\n  ips:\n    includes: [10.0.0.0/33]\n", "rtc_config.ips.includes", "not an address or a network"},
		{"rtc_config:\n  ips:\n    excludes: [nope]\n", "rtc_config.ips.excludes", "not an address or a network"},
		{"rtc_config:\n  batch_io:\n    batch_size: 64\n", "rtc_config.batch_io.max_flush_interval", "positive duration"},
		{"rtc_config:\n  batch_io:\n    batch_size: -1\n", "rtc_config.batch_io.batch_size", "negative"},
		{"rtc_config:\n  stun_servers: [\"\"]\n", "rtc_config.stun_servers[0]", "host or host:port"},
	} {
		_, err := Parse([]byte(base+c.body), env(nil))
		var ce *Error
		require.ErrorAs(t, err, &ce, c.body)
		require.Equal(t, c.key, ce.Key, c.body)
		require.Contains(t, ce.Reason, c.reason, c.body)
	}
	// The WHIP transport is not checked when WHIP is off.
	_, err := Parse([]byte(base+"whip_port: -1\nrtc_config:\n  force_tcp: true\n"), env(nil))
	require.NoError(t, err)
}

// TestRTCHonoured: the keys the WHIP transport honours are accepted
// without a warning.
func TestRTCHonoured(t *testing.T) {
	c, err := Parse([]byte(base+`rtc_config:
  udp_port: 7885
  tcp_port: 7881
  use_ice_lite: true
  use_mdns: true
  interfaces:
    includes: [eth0]
    excludes: [docker0]
  ips:
    includes: [10.0.0.0/8, 192.0.2.1]
    excludes: [10.1.0.0/16]
  node_ip: 203.0.113.7,2001:db8::1
  advertise_internal_ip: true
  enable_loopback_candidate: true
  use_stun_port_as_ice: true
  batch_io:
    batch_size: 64
    max_flush_interval: 2ms
  sctp_min_cwnd: 1
  host_acceptance_min_wait: 100ms
`), env(nil))
	require.NoError(t, err)
	require.Empty(t, c.NoEffect())
	require.False(t, c.RTCConfig.ICESTUN())

	c, err = Parse([]byte(base+"rtc_config:\n  use_external_ip: true\n  external_ip_only: true\n  skip_external_ip_validation: true\n  require_ipv4: true\n  stun_servers: [\"stun.example:3478\"]\n"), env(nil))
	require.NoError(t, err)
	require.Empty(t, c.NoEffect())
	require.Equal(t, []string{"stun.example:3478"}, c.RTCConfig.STUN())
	require.False(t, c.RTCConfig.ICESTUN(), "use_external_ip rewrites host candidates instead")
}

// TestRTCNoEffect: each rtc_config key that does nothing with the rest of
// the section is named at start with the reason, where the official
// worker ignores it silently.
func TestRTCNoEffect(t *testing.T) {
	for _, c := range []struct {
		body string
		want [][2]string
	}{
		{"port_range_start: 50000\n", [][2]string{{"rtc_config.port_range_start", "needs port_range_end too, so no range is used: the sessions share udp_port if it is set, else each takes any free UDP port (as in the official worker)"}}},
		{"port_range_end: 50000\n", [][2]string{{"rtc_config.port_range_end", "needs port_range_start too, so no range is used: the sessions share udp_port 7885"}}},
		{"force_tcp: true\n  tcp_port: 7881\n  udp_port: 7885\n", [][2]string{{"rtc_config.udp_port", "force_tcp: true gathers TCP candidates only; no UDP port is opened"}}},
		{"port_range_start: 50000\n  port_range_end: 50100\n  batch_io:\n    batch_size: 8\n    max_flush_interval: 2ms\n  use_stun_port_as_ice: true\n", [][2]string{
			{"rtc_config.batch_io", "batches the writes of the shared udp_port sockets; sessions with ports of their own (port_range_start/end, force_tcp) write unbatched"},
			{"rtc_config.use_stun_port_as_ice", "adds port 3478 to the shared udp_port sockets; there are none with port_range_start/end or force_tcp"},
		}},
		{"external_ip_only: true\n  skip_external_ip_validation: true\n  require_ipv4: true\n  advertise_internal_ip: true\n", [][2]string{
			{"rtc_config.external_ip_only", "restricts candidates to the addresses use_external_ip maps; use_external_ip is off"},
			{"rtc_config.skip_external_ip_validation", "skips the check of the address use_external_ip finds; use_external_ip is off"},
			{"rtc_config.require_ipv4", "makes use_external_ip's STUN discovery find an IPv4 address; use_external_ip is off"},
			{"rtc_config.advertise_internal_ip", "keeps the local candidates next to node_ip's or use_external_ip's; neither is set"},
		}},
		{"node_ip: 203.0.113.7\n  stun_servers: [\"stun.example:3478\"]\n", [][2]string{{"rtc_config.stun_servers", "node_ip names the address, so sessions gather no server-reflexive candidates (as in the official worker)"}}},
		{"use_ice_lite: true\n  stun_servers: [\"stun.example:3478\"]\n", [][2]string{{"rtc_config.stun_servers", "an ICE lite endpoint gathers no server-reflexive candidates"}}},
	} {
		conf, err := Parse([]byte(base+"rtc_config:\n  "+c.body), env(nil))
		require.NoError(t, err, c.body)
		require.Equal(t, c.want, conf.NoEffect(), c.body)
	}
	conf, err := Parse([]byte(base+"whip_port: -1\nrtc_config:\n  udp_port: 7885\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, [][2]string{{"rtc_config", "WHIP is disabled (whip_port: -1); rtc_config only configures WHIP media"}}, conf.NoEffect())
}

// TestPionLogLevel: pion's messages start at warn unless
// logging.component_levels sets pion.
func TestPionLogLevel(t *testing.T) {
	c, err := Parse([]byte(base+"logging:\n  level: debug\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, "warn", c.Logging.ComponentLevels["pion"])
	c, err = Parse([]byte(base+"logging:\n  level: debug\n  component_levels:\n    pion: debug\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, "debug", c.Logging.ComponentLevels["pion"])
}
