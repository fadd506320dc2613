// Package config loads and validates Tributary's configuration.
//
// The keys are those of LiveKit's official ingress worker, with the same
// meaning and defaults, so an existing worker config file works unchanged.
// Standalone mode adds a few keys of its own (api_port, store_path,
// rtmp_base_url, whip_base_url). Bad values are refused at start with an
// error that names the key. Unknown keys are ignored, as the official
// worker ignores them, and each is reported with the known key it most
// likely meant (UnknownKeys); strict_config: true refuses them instead.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/redis"
	"github.com/livekit/protocol/webhook"
	"gopkg.in/yaml.v3"
)

// Defaults, as in the official ingress worker where the key exists there.
const (
	DefaultRTMPPort      = 1935
	DefaultWHIPPort      = 8080
	DefaultHTTPRelayPort = 9090
	DefaultAPIPort       = 7890
	DefaultServiceName   = "ingress"
	// DefaultDrainTimeout 0 waits for every running session, as the
	// official worker does on SIGTERM.
	DefaultDrainTimeout = 0
	// MaxTranscodeDelay bounds transcode_delay: a pinned delay holds every
	// frame (and its audio) that long, and beyond this it is a stall, not
	// a budget.
	MaxTranscodeDelay = 2 * time.Second
	// DefaultPionLevel is the level of pion's messages (the WebRTC
	// stack) unless logging.component_levels sets one.
	DefaultPionLevel = "warn"
	// MinAPISecretLength is the shortest api_secret accepted without
	// development: true.
	MinAPISecretLength = 32
)

// Config is the whole configuration file.
type Config struct {
	// Keys of the official ingress worker.
	Redis            *redis.RedisConfig `yaml:"redis"`
	APIKey           string             `yaml:"api_key"`
	APISecret        string             `yaml:"api_secret"`
	WsURL            string             `yaml:"ws_url"`
	HealthPort       int                `yaml:"health_port"`
	DebugHandlerPort int                `yaml:"debug_handler_port"`
	PrometheusPort   int                `yaml:"prometheus_port"`
	RTMPPort         int                `yaml:"rtmp_port"` // -1 disables RTMP
	WHIPPort         int                `yaml:"whip_port"` // -1 disables WHIP
	HTTPRelayPort    int                `yaml:"http_relay_port"`
	Logging          logger.Config      `yaml:"logging"`
	// Development accepts an api_secret shorter than MinAPISecretLength
	// (livekit-server --dev's devkey/secret): for a development machine,
	// never for a server on a network.
	Development bool `yaml:"development"`
	// WHIPProxyEnabled, in cluster mode, hands the offers of WHIP ingresses
	// without transcoding to livekit-server's own WHIP endpoint, which
	// then terminates WebRTC, as the official worker does; standalone it
	// has no effect.
	WHIPProxyEnabled bool          `yaml:"whip_proxy_enabled"`
	RTCConfig        RTCConfig     `yaml:"rtc_config"`
	CPUCost          CPUCostConfig `yaml:"cpu_cost"`
	// EnableStreamLatencyReduction drops excess preroll media.
	EnableStreamLatencyReduction bool   `yaml:"enable_stream_latency_reduction"`
	ServiceName                  string `yaml:"service_name"`
	NodeID                       string `yaml:"node_id"`

	// DrainTimeout bounds how long SIGTERM or SIGQUIT waits for running
	// sessions to end before stopping them (Tributary key, both modes;
	// e.g. "30s"; default 0: no bound, every session may finish, as the
	// official worker waits). SIGINT, or a second signal, stops at once.
	DrainTimeout time.Duration `yaml:"drain_timeout"`

	// TranscodeDelay pins the release delay of transcoding sessions
	// (Tributary key, e.g. "250ms"; default 0: a live session adapts it to
	// the time its transcoder takes, between 100 and 250 ms, and a file is
	// released 250 ms behind). At most MaxTranscodeDelay.
	TranscodeDelay time.Duration `yaml:"transcode_delay"`

	// StrictConfig refuses unknown keys at start instead of warning about
	// them (Tributary key, default false: a config written for another
	// release of the official worker still starts).
	StrictConfig bool `yaml:"strict_config"`
	// Webhook is livekit-server's webhook section (api_key, urls,
	// filter_params, resource_url_notifier): in standalone mode, where
	// Tributary is the control plane, it sends ingress_started and
	// ingress_ended there as livekit-server would, signed with api_key
	// (webhook.api_key may be left out; it must be api_key when set). In
	// cluster mode livekit-server sends them and this section is ignored.
	Webhook webhook.WebHookConfig `yaml:"webhook"`
	// unknown are the keys no field took, found by Parse.
	unknown []*Error
	// IsolateTranscoding runs each session's transcoders in a child process
	// of the same binary, so a codec crash ends only that session
	// (Tributary key; default true in cluster mode, false standalone).
	IsolateTranscoding *bool `yaml:"isolate_transcoding"`
	// TranscodingReuseTopLayer, on by default, sends a transcoded
	// session's source as its top layer, encoding only the lower ones,
	// while the source already is what that layer would be (same codec,
	// Constrained Baseline H.264 or VP8, the layer's exact size, no
	// faster, at most twice its bitrate, keyframes at most 4 s apart; see
	// transcode/reuse.go). false encodes every layer (Tributary key).
	TranscodingReuseTopLayer *bool `yaml:"transcoding_reuse_top_layer"`

	// SRTPort is the SRT listener (UDP) where encoders push MPEG-TS with
	// an RTMP ingress's stream key as streamid; 0 disables it (Tributary
	// key, both modes). SRTPassphrase, when set, is required from
	// publishers.
	SRTPort       int    `yaml:"srt_port"`
	SRTPassphrase string `yaml:"srt_passphrase"`

	// Standalone-mode keys of Tributary.

	// APIPort serves the Twirp livekit.Ingress API (standalone mode).
	APIPort int `yaml:"api_port"`
	// StorePath is the embedded store file holding ingress records.
	StorePath string `yaml:"store_path"`
	// RTMPBaseURL is the URL shown in IngressInfo.url for RTMP ingresses.
	RTMPBaseURL string `yaml:"rtmp_base_url"`
	// WHIPBaseURL is the URL shown in IngressInfo.url for WHIP ingresses.
	WHIPBaseURL string `yaml:"whip_base_url"`
	// RTMPSPort serves RTMP over TLS with RTMPSCertFile/RTMPSKeyFile (PEM);
	// 0 disables it.
	RTMPSPort     int    `yaml:"rtmps_port"`
	RTMPSCertFile string `yaml:"rtmps_cert_file"`
	RTMPSKeyFile  string `yaml:"rtmps_key_file"`
	// SecureCookies marks the console's session cookie Secure even when
	// the request reached Tributary over plain HTTP: set it when a
	// TLS-terminating proxy serves the console (Tributary key, default
	// false: the cookie is Secure when the request came over TLS).
	SecureCookies bool `yaml:"secure_cookies"`
	// DebugHandlerBindAddress is the address debug_handler_port listens
	// on (Tributary key, default 127.0.0.1: profiles and goroutine dumps
	// show the process's internals; set "0.0.0.0" or an interface address
	// to reach it from elsewhere).
	DebugHandlerBindAddress string `yaml:"debug_handler_bind_address"`
	// DenyPrivateURLs refuses URL ingresses whose host resolves to a
	// loopback, private, link-local or otherwise non-public address, for
	// every pulled scheme (http, https, srt, rtsp, rtsps) and every
	// redirect; while it is on, HTTP_PROXY / HTTPS_PROXY are not used for
	// pulls (Tributary key, both modes; default true: whoever may create
	// an ingress must not reach the server's own network through it).
	// Read it with DenyPrivate.
	DenyPrivateURLs *bool `yaml:"deny_private_urls"`
	// EnableUDPURLPull allows URL ingresses with a udp:// URL (MPEG-TS
	// over UDP, unicast or multicast), as livekit-server's
	// ingress.enable_udp_url_pull does in cluster mode (Tributary key for
	// standalone mode; default false). The ingress binds the port its
	// creator chooses and takes media from whoever sends to it, and may
	// join a multicast group of the server's network: enable it only when
	// those who create ingresses and that network are trusted.
	EnableUDPURLPull bool `yaml:"enable_udp_url_pull"`
	// URLSpoolBudget bounds, in bytes, the temporary disk all URL pulls of
	// the process may use together for MP4 files served without range
	// support, which are copied to $TMPDIR/tributary-spool-<uid> before
	// they play (Tributary key, both modes; 0 means the default, 8 GiB;
	// -1 disables spooling and refuses such files).
	URLSpoolBudget int64 `yaml:"url_spool_budget"`
	// StandaloneAdmission refuses a publish (or a URL ingress) that would
	// overload a standalone machine, with the reason in the ingress
	// state: the cpu_cost section's costs of the running sessions, their
	// own defaults (monitor.StandaloneCosts), must fit in the machine's
	// cores less min_idle_ratio (Tributary key for standalone mode;
	// default true; cluster mode always admits, as LiveKit's worker
	// does). Read it with Admission.
	StandaloneAdmission *bool `yaml:"standalone_admission"`
}

// Admission tells whether standalone admission is on
// (standalone_admission, default true).
func (c *Config) Admission() bool {
	return c.StandaloneAdmission == nil || *c.StandaloneAdmission
}

// DenyPrivate tells whether the URL address guard is on
// (deny_private_urls, default true).
func (c *Config) DenyPrivate() bool {
	return c.DenyPrivateURLs == nil || *c.DenyPrivateURLs
}

// CPUCostConfig is the cost, in cores, that admission control charges per
// session type, and the idle share it keeps free.
type CPUCostConfig struct {
	RTMPCPUCost                  float64 `yaml:"rtmp_cpu_cost"`
	WHIPCPUCost                  float64 `yaml:"whip_cpu_cost"`
	WHIPBypassTranscodingCPUCost float64 `yaml:"whip_bypass_transcoding_cpu_cost"`
	URLCPUCost                   float64 `yaml:"url_cpu_cost"`
	MinIdleRatio                 float64 `yaml:"min_idle_ratio"`
}

// Error is a configuration error that names the key at fault.
type Error struct {
	Key    string
	Reason string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "config: " + e.Reason
	}
	return fmt.Sprintf("config: %s: %s", e.Key, e.Reason)
}

// Source tells where the configuration body comes from, as the official
// worker reads it: a body (the --config-body flag, else
// INGRESS_CONFIG_BODY) wins over a file (the --config flag, else
// INGRESS_CONFIG_FILE), and a flag wins over its environment variable.
// With neither, the body is empty (the LIVEKIT_* variables may still
// configure the server).
func Source(flagPath, flagBody string, getenv func(string) string) (body []byte, origin string, err error) {
	switch {
	case flagBody != "":
		return []byte(flagBody), "--config-body", nil
	case getenv("INGRESS_CONFIG_BODY") != "":
		return []byte(getenv("INGRESS_CONFIG_BODY")), "INGRESS_CONFIG_BODY", nil
	}
	path := flagPath
	if path == "" {
		path = getenv("INGRESS_CONFIG_FILE")
	}
	if path == "" {
		return nil, "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, path, &Error{Reason: fmt.Sprintf("cannot read config file: %v", err)}
	}
	return b, path, nil
}

var (
	reTypeError = regexp.MustCompile(`line (\d+): cannot unmarshal !!(\w+) ` + "`" + `([^` + "`" + `]*)` + "`" + ` into (\S+)`)
)

// Parse decodes a YAML body, applies the LIVEKIT_* environment variables and
// defaults, and validates the result. Unknown keys are kept for
// UnknownKeys, or refused with strict_config: true.
func Parse(body []byte, getenv func(string) string) (*Config, error) {
	c := &Config{}
	if len(bytes.TrimSpace(body)) > 0 {
		var doc yaml.Node
		err := yaml.NewDecoder(bytes.NewReader(body)).Decode(&doc)
		if err == nil {
			err = doc.Decode(c)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, yamlError(body, err)
		}
		c.unknown = unknownKeys(&doc, reflect.TypeFor[Config]())
		if c.StrictConfig && len(c.unknown) > 0 {
			return nil, c.unknown[0]
		}
	}
	c.applyEnv(getenv)
	c.applyDefaults(getenv)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// UnknownKeys returns the keys of the body that Tributary does not know,
// each as an error naming the key, its line and, when one is close, the
// key probably meant. They were ignored; log them.
func (c *Config) UnknownKeys() []*Error { return c.unknown }

// yamlError rewrites the YAML decoder's errors so that they name the key.
func yamlError(body []byte, err error) error {
	msg := err.Error()
	if m := reTypeError.FindStringSubmatch(msg); m != nil {
		key := keyAtLine(body, m[1])
		return &Error{Key: key, Reason: fmt.Sprintf("bad value %q (line %s): expected %s", m[3], m[1], m[4])}
	}
	var lineKey string
	if i := strings.Index(msg, "line "); i >= 0 {
		var n string
		for _, r := range msg[i+5:] {
			if r < '0' || r > '9' {
				break
			}
			n += string(r)
		}
		lineKey = keyAtLine(body, n)
	}
	return &Error{Key: lineKey, Reason: strings.TrimPrefix(msg, "yaml: ")}
}

// keyAtLine returns the key written on a 1-based line of the body.
func keyAtLine(body []byte, line string) string {
	var n int
	if _, err := fmt.Sscan(line, &n); err != nil || n <= 0 {
		return ""
	}
	lines := strings.Split(string(body), "\n")
	if n > len(lines) {
		return ""
	}
	l := strings.TrimSpace(lines[n-1])
	l = strings.TrimPrefix(l, "- ")
	if i := strings.Index(l, ":"); i > 0 {
		return l[:i]
	}
	return ""
}

func (c *Config) applyEnv(getenv func(string) string) {
	if c.APIKey == "" {
		c.APIKey = getenv("LIVEKIT_API_KEY")
	}
	if c.APISecret == "" {
		c.APISecret = getenv("LIVEKIT_API_SECRET")
	}
	if c.WsURL == "" {
		c.WsURL = getenv("LIVEKIT_WS_URL")
	}
	if c.WsURL == "" {
		c.WsURL = getenv("LIVEKIT_URL")
	}
}

func (c *Config) applyDefaults(getenv func(string) string) {
	if c.RTMPPort == 0 {
		c.RTMPPort = DefaultRTMPPort
	}
	if c.WHIPPort == 0 {
		c.WHIPPort = DefaultWHIPPort
	}
	if c.HTTPRelayPort == 0 {
		c.HTTPRelayPort = DefaultHTTPRelayPort
	}
	if c.APIPort == 0 {
		c.APIPort = DefaultAPIPort
	}
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	if c.StorePath == "" {
		c.StorePath = defaultStorePath(getenv)
	}
	if c.DebugHandlerBindAddress == "" {
		c.DebugHandlerBindAddress = "127.0.0.1"
	}
	if c.RTMPBaseURL == "" && c.RTMPPort > 0 {
		c.RTMPBaseURL = fmt.Sprintf("rtmp://localhost:%d/x", c.RTMPPort)
	}
	// pion logs every ICE check and DTLS step at debug: its messages
	// start at warn unless logging.component_levels sets pion (pion.ice
	// and the like are more specific and win anyway).
	if _, ok := c.Logging.ComponentLevels["pion"]; !ok {
		if c.Logging.ComponentLevels == nil {
			c.Logging.ComponentLevels = map[string]string{}
		}
		c.Logging.ComponentLevels["pion"] = DefaultPionLevel
	}
	// The official worker shares one UDP port among the WHIP sessions
	// unless rtc_config asks for a port range.
	if c.WHIPPort > 0 && c.RTCConfig.UDPPort.Start == 0 && c.RTCConfig.ICEPortRangeStart == 0 {
		c.RTCConfig.UDPPort.Start = DefaultUDPPort
		c.RTCConfig.udpPortDefaulted = true
	}
	if c.WHIPBaseURL == "" && c.WHIPPort > 0 {
		c.WHIPBaseURL = fmt.Sprintf("http://localhost:%d/w", c.WHIPPort)
	}
}

func defaultStorePath(getenv func(string) string) string {
	dir := getenv("XDG_DATA_HOME")
	if dir == "" {
		if home := getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".local", "share")
		} else {
			dir = "."
		}
	}
	return filepath.Join(dir, "tributary", "ingress.db")
}

// Validate checks every value and names the first key that is wrong.
func (c *Config) Validate() error {
	if c.APIKey == "" {
		return &Error{Key: "api_key", Reason: "required (or set LIVEKIT_API_KEY)"}
	}
	if c.APISecret == "" {
		return &Error{Key: "api_secret", Reason: "required (or set LIVEKIT_API_SECRET)"}
	}
	if c.WsURL == "" {
		return &Error{Key: "ws_url", Reason: "required: the LiveKit server to publish into (or set LIVEKIT_WS_URL)"}
	}
	if err := checkURL("ws_url", c.WsURL, "ws", "wss", "http", "https"); err != nil {
		return err
	}
	for _, p := range []struct {
		key     string
		v       int
		disable bool
	}{
		{"rtmp_port", c.RTMPPort, true},
		{"whip_port", c.WHIPPort, true},
		{"http_relay_port", c.HTTPRelayPort, false},
		{"health_port", c.HealthPort, false},
		{"prometheus_port", c.PrometheusPort, false},
		{"debug_handler_port", c.DebugHandlerPort, false},
		{"api_port", c.APIPort, false},
		{"rtmps_port", c.RTMPSPort, false},
		{"srt_port", c.SRTPort, false},
	} {
		if p.v < 0 && !(p.disable && p.v == -1) {
			return &Error{Key: p.key, Reason: fmt.Sprintf("must be a port number (got %d)", p.v)}
		}
		if p.v > 65535 {
			return &Error{Key: p.key, Reason: fmt.Sprintf("must be at most 65535 (got %d)", p.v)}
		}
	}
	if c.RTMPBaseURL != "" {
		if err := checkURL("rtmp_base_url", c.RTMPBaseURL, "rtmp", "rtmps"); err != nil {
			return err
		}
	}
	if c.WHIPBaseURL != "" {
		if err := checkURL("whip_base_url", c.WHIPBaseURL, "http", "https"); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		key string
		v   float64
	}{
		{"cpu_cost.rtmp_cpu_cost", c.CPUCost.RTMPCPUCost},
		{"cpu_cost.whip_cpu_cost", c.CPUCost.WHIPCPUCost},
		{"cpu_cost.whip_bypass_transcoding_cpu_cost", c.CPUCost.WHIPBypassTranscodingCPUCost},
		{"cpu_cost.url_cpu_cost", c.CPUCost.URLCPUCost},
	} {
		if f.v < 0 {
			return &Error{Key: f.key, Reason: fmt.Sprintf("must not be negative (got %g)", f.v)}
		}
	}
	if r := c.CPUCost.MinIdleRatio; r < 0 || r >= 1 {
		return &Error{Key: "cpu_cost.min_idle_ratio", Reason: fmt.Sprintf("must be in [0, 1) (got %g)", r)}
	}
	switch strings.ToLower(c.Logging.Level) {
	case "", "debug", "info", "warn", "error":
	default:
		return &Error{Key: "logging.level", Reason: fmt.Sprintf("must be debug, info, warn or error (got %q)", c.Logging.Level)}
	}
	if c.StorePath == "" {
		return &Error{Key: "store_path", Reason: "must not be empty"}
	}
	if c.DrainTimeout < 0 {
		return &Error{Key: "drain_timeout", Reason: fmt.Sprintf("must not be negative (got %v)", c.DrainTimeout)}
	}
	if c.TranscodeDelay < 0 || c.TranscodeDelay > MaxTranscodeDelay {
		return &Error{Key: "transcode_delay", Reason: fmt.Sprintf("must be 0 (adaptive) or a duration up to %v (got %v)", MaxTranscodeDelay, c.TranscodeDelay)}
	}
	if c.WHIPPort > 0 {
		if err := c.RTCConfig.validate(); err != nil {
			return err
		}
	}
	if err := c.validateWebhook(); err != nil {
		return err
	}
	if n := len(c.SRTPassphrase); n > 0 && (n < 10 || n > 79) {
		return &Error{Key: "srt_passphrase", Reason: fmt.Sprintf("must be 10 to 79 characters (got %d), as SRT requires", n)}
	}
	if c.URLSpoolBudget < -1 {
		return &Error{Key: "url_spool_budget", Reason: fmt.Sprintf("must be a number of bytes, 0 for the default or -1 to disable spooling (got %d)", c.URLSpoolBudget)}
	}
	if c.RTMPSPort > 0 && (c.RTMPSCertFile == "" || c.RTMPSKeyFile == "") {
		return &Error{Key: "rtmps_port", Reason: "needs rtmps_cert_file and rtmps_key_file (PEM)"}
	}
	if net.ParseIP(c.DebugHandlerBindAddress) == nil {
		return &Error{Key: "debug_handler_bind_address", Reason: fmt.Sprintf("must be an IP address (got %q)", c.DebugHandlerBindAddress)}
	}
	// Last, so that a more specific mistake is named first.
	if n := len(c.APISecret); n < MinAPISecretLength && !c.Development {
		return &Error{Key: "api_secret", Reason: fmt.Sprintf("must be at least %d characters (got %d): it signs every API, room and console token, and a short one can be guessed; "+
			"generate one with `openssl rand -base64 32`, or set development: true to accept a short development secret such as livekit-server --dev's", MinAPISecretLength, n)}
	}
	return nil
}

func checkURL(key, raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &Error{Key: key, Reason: fmt.Sprintf("not a URL: %v", err)}
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" {
				return &Error{Key: key, Reason: fmt.Sprintf("%q has no host", raw)}
			}
			return nil
		}
	}
	return &Error{Key: key, Reason: fmt.Sprintf("%q must use scheme %s", raw, strings.Join(schemes, " or "))}
}

// NoEffect lists the keys of LiveKit's worker config that are set but do
// nothing in Tributary, each with the reason, so that they can be logged
// at start instead of silently ignored.
func (c *Config) NoEffect() [][2]string {
	var out [][2]string
	if c.WHIPProxyEnabled && !c.ClusterMode() {
		out = append(out, [2]string{"whip_proxy_enabled", "it works in cluster mode only (livekit-server reports the proxied WebRTC session over the psrpc bus on Redis): standalone, Tributary terminates WHIP itself and forwards the media"})
	}
	if c.EnableStreamLatencyReduction {
		out = append(out, [2]string{"enable_stream_latency_reduction", "always on: Tributary releases media on a bounded media clock and never builds up preroll"})
	}
	if c.ClusterMode() && len(c.Webhook.URLs) > 0 {
		out = append(out, [2]string{"webhook", "in cluster mode livekit-server sends ingress_started/ingress_ended from the states this worker reports; Tributary does not send them too"})
	}
	if !c.ClusterMode() && c.CPUCost != (CPUCostConfig{}) && !c.Admission() {
		out = append(out, [2]string{"cpu_cost", "standalone_admission is false: this standalone Tributary takes every publish"})
	}
	if c.ClusterMode() && c.StandaloneAdmission != nil {
		out = append(out, [2]string{"standalone_admission", "cluster mode always admits by cpu_cost, as LiveKit's worker does"})
	}
	return append(out, c.RTCConfig.noEffect(c.WHIPPort > 0)...)
}

// ClusterMode reports whether the config asks for the livekit-server worker
// mode (psrpc over Redis).
func (c *Config) ClusterMode() bool {
	return c.Redis != nil && (c.Redis.Address != "" || len(c.Redis.SentinelAddresses) > 0 || len(c.Redis.ClusterAddresses) > 0)
}

// validateWebhook checks the webhook section: http(s) URLs, signed with
// api_key (the only key Tributary has; webhook.api_key defaults to it).
func (c *Config) validateWebhook() error {
	w := &c.Webhook
	if len(w.URLs) == 0 {
		return nil
	}
	if w.APIKey == "" {
		w.APIKey = c.APIKey
	}
	if w.APIKey != c.APIKey {
		return &Error{Key: "webhook.api_key", Reason: fmt.Sprintf("%q is not api_key: Tributary signs webhooks with api_key/api_secret", w.APIKey)}
	}
	for i, u := range w.URLs {
		if err := checkURL(fmt.Sprintf("webhook.urls[%d]", i), u, "http", "https"); err != nil {
			return err
		}
	}
	return nil
}
