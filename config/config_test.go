package config

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const base = "api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\nws_url: ws://127.0.0.1:7880\n"

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(base), env(map[string]string{"HOME": "/home/u"}))
	require.NoError(t, err)
	require.Equal(t, 1935, c.RTMPPort)
	require.Equal(t, 8080, c.WHIPPort)
	require.Equal(t, 9090, c.HTTPRelayPort)
	require.Equal(t, DefaultAPIPort, c.APIPort)
	require.Equal(t, "ingress", c.ServiceName)
	require.Equal(t, "/home/u/.local/share/tributary/ingress.db", c.StorePath)
	require.Equal(t, "rtmp://localhost:1935/x", c.RTMPBaseURL)
	require.Equal(t, "http://localhost:8080/w", c.WHIPBaseURL)
	require.False(t, c.ClusterMode())
}

func TestParseOfficialWorkerFile(t *testing.T) {
	// A worker config file as users of the official service write it.
	body := `
api_key: devkey
api_secret: secret
ws_url: ws://localhost:7880
redis:
  address: localhost:6379
  db: 2
health_port: 9091
prometheus_port: 9092
rtmp_port: -1
whip_port: 8081
logging:
  level: debug
  json: true
development: true
whip_proxy_enabled: false
enable_stream_latency_reduction: true
rtc_config:
  udp_port: 7885
  tcp_port: 7886
  use_external_ip: false
  node_ip: 127.0.0.1
  stun_servers: ["stun.example:3478"]
cpu_cost:
  rtmp_cpu_cost: 2
  whip_cpu_cost: 2
  whip_bypass_transcoding_cpu_cost: 0.1
  url_cpu_cost: 2
  min_idle_ratio: 0.3
service_name: ingress
node_id: x
`
	c, err := Parse([]byte(body), env(nil))
	require.NoError(t, err)
	require.True(t, c.ClusterMode())
	require.Equal(t, 2, c.Redis.DB)
	require.Equal(t, -1, c.RTMPPort)
	require.Empty(t, c.RTMPBaseURL, "a disabled input has no URL")
	require.Equal(t, "http://localhost:8081/w", c.WHIPBaseURL)
	require.Equal(t, 7885, c.RTCConfig.UDPPort.Start)
	require.Equal(t, uint32(7886), c.RTCConfig.TCPPort)
	require.Equal(t, "debug", c.Logging.Level)
	require.True(t, c.Logging.JSON)
	require.Equal(t, 0.3, c.CPUCost.MinIdleRatio)
}

func TestEnvironment(t *testing.T) {
	c, err := Parse(nil, env(map[string]string{
		"LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s0123456789abcdef0123456789abcdef", "LIVEKIT_URL": "wss://lk.example",
	}))
	require.NoError(t, err)
	require.Equal(t, "k", c.APIKey)
	require.Equal(t, "s0123456789abcdef0123456789abcdef", c.APISecret)
	require.Equal(t, "wss://lk.example", c.WsURL)

	c, err = Parse([]byte(base), env(map[string]string{"LIVEKIT_API_KEY": "other"}))
	require.NoError(t, err)
	require.Equal(t, "k", c.APIKey, "the file wins over the environment")
}

func TestParseErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name string
		body string
		key  string
		msg  string
	}{
		{"unknown top-level key, strict", base + "strict_config: true\nrtmp_prot: 1935\n", "rtmp_prot", "unknown key, did you mean rtmp_port? (line 5)"},
		{"unknown nested key, strict", base + "strict_config: true\nrtc_config:\n  udp_prot: 1\n", "rtc_config.udp_prot", "did you mean rtc_config.udp_port?"},
		{"string for a port", base + "rtmp_port: abc\n", "rtmp_port", `bad value "abc"`},
		{"negative port", base + "whip_port: -5\n", "whip_port", "must be a port number"},
		{"port too large", base + "api_port: 70000\n", "api_port", "at most 65535"},
		{"health port -1", base + "health_port: -1\n", "health_port", "must be a port number"},
		{"missing key", "api_secret: 0123456789abcdef0123456789abcdef\nws_url: ws://x\n", "api_key", "required"},
		{"missing secret", "api_key: k\nws_url: ws://x\n", "api_secret", "required"},
		{"missing ws_url", "api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\n", "ws_url", "required"},
		{"bad ws_url scheme", "api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\nws_url: ftp://x\n", "ws_url", "scheme"},
		{"bad rtmp base", base + "rtmp_base_url: http://x/live\n", "rtmp_base_url", "scheme rtmp or rtmps"},
		{"bad whip base", base + "whip_base_url: whip\n", "whip_base_url", "scheme http or https"},
		{"negative cost", base + "cpu_cost:\n  url_cpu_cost: -1\n", "cpu_cost.url_cpu_cost", "negative"},
		{"idle ratio", base + "cpu_cost:\n  min_idle_ratio: 1.5\n", "cpu_cost.min_idle_ratio", "[0, 1)"},
		{"log level", base + "logging:\n  level: loud\n", "logging.level", "loud"},
		{"bad port range", base + "rtc_config:\n  udp_port: 9-3\n", "udp_port", "greater than start"},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			_, err := Parse([]byte(ca.body), env(nil))
			require.Error(t, err)
			var ce *Error
			require.True(t, errors.As(err, &ce), "got %T %v", err, err)
			require.Equal(t, ca.key, ce.Key, err.Error())
			require.Contains(t, err.Error(), ca.msg)
		})
	}
}

// TestAPISecretLength: a secret shorter than 32 characters is refused
// with a start-up error naming the key, unless development: true (the
// official worker file above pairs livekit-server --dev's devkey/secret
// with it).
func TestAPISecretLength(t *testing.T) {
	env := func(string) string { return "" }
	_, err := Parse([]byte("api_key: k\napi_secret: secret\nws_url: ws://127.0.0.1:7880\n"), env)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "api_secret", ce.Key)
	require.Contains(t, ce.Reason, "must be at least 32 characters (got 6)")
	require.Contains(t, ce.Reason, "development: true")

	_, err = Parse([]byte("api_key: k\napi_secret: 0123456789abcdef0123456789abcde\nws_url: ws://127.0.0.1:7880\n"), env)
	require.ErrorContains(t, err, "got 31")
	_, err = Parse([]byte("api_key: k\nws_url: ws://127.0.0.1:7880\n"), func(k string) string {
		if k == "LIVEKIT_API_SECRET" {
			return "short"
		}
		return ""
	})
	require.ErrorContains(t, err, "api_secret: must be at least 32 characters (got 5)", "from the environment too")

	c, err := Parse([]byte("api_key: k\napi_secret: secret\nws_url: ws://127.0.0.1:7880\ndevelopment: true\n"), env)
	require.NoError(t, err)
	require.True(t, c.Development)
}

// TestDebugHandlerLoopback: the profiling port listens on loopback unless
// the config says otherwise.
func TestDebugHandlerLoopback(t *testing.T) {
	env := func(string) string { return "" }
	c, err := Parse([]byte(base+"debug_handler_port: 6060\n"), env)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", c.DebugHandlerBindAddress)
	c, err = Parse([]byte(base+"debug_handler_bind_address: 0.0.0.0\n"), env)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0", c.DebugHandlerBindAddress)
	_, err = Parse([]byte(base+"debug_handler_bind_address: everywhere\n"), env)
	require.ErrorContains(t, err, `debug_handler_bind_address: must be an IP address (got "everywhere")`)
}

func TestNoEffect(t *testing.T) {
	conf, err := Parse([]byte("api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\nws_url: ws://127.0.0.1:7880\ndevelopment: true\nwhip_proxy_enabled: true\nenable_stream_latency_reduction: true\ncpu_cost:\n  rtmp_cpu_cost: 1\n"), func(string) string { return "" })
	require.NoError(t, err)
	var keys []string
	for _, k := range conf.NoEffect() {
		require.NotEmpty(t, k[1], "a reason for %s", k[0])
		keys = append(keys, k[0])
	}
	require.Equal(t, []string{"whip_proxy_enabled", "enable_stream_latency_reduction"}, keys,
		"cpu_cost counts standalone too (standalone admission)")
	require.True(t, conf.Admission(), "standalone admission is on by default")

	conf, err = Parse([]byte("api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\nws_url: ws://127.0.0.1:7880\nstandalone_admission: false\ncpu_cost:\n  rtmp_cpu_cost: 1\n"), func(string) string { return "" })
	require.NoError(t, err)
	require.False(t, conf.Admission())
	require.Len(t, conf.NoEffect(), 1)
	require.Equal(t, "cpu_cost", conf.NoEffect()[0][0], "no admission, no costs")

	conf, err = Parse([]byte("api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\nws_url: ws://127.0.0.1:7880\nredis:\n  address: 127.0.0.1:6379\nwhip_proxy_enabled: true\ncpu_cost:\n  rtmp_cpu_cost: 1\n"), func(string) string { return "" })
	require.NoError(t, err)
	require.Empty(t, conf.NoEffect(), "cpu_cost and whip_proxy_enabled count in cluster mode; nothing else is set")
}
