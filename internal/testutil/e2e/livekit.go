package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// DevAPIKey is the API key of the test server (livekit-server --dev's).
	DevAPIKey = "devkey"
	// DevAPISecret is the API secret of the test server.
	DevAPISecret = "secret"

	// liveKitStartTimeout bounds the wait for the server to answer HTTP. A
	// cold start on a busy 2-core machine takes a few seconds.
	liveKitStartTimeout = 60 * time.Second
	// liveKitStartAttempts is how often startup is retried when another
	// process took one of the chosen ports first.
	liveKitStartAttempts = 3
	// readyPollInterval is how often the HTTP endpoint is probed at startup.
	readyPollInterval = 50 * time.Millisecond
)

// LiveKit is a running livekit-server started by [StartLiveKit].
type LiveKit struct {
	// URL is the signalling URL for clients, ws://127.0.0.1:<port>.
	URL string
	// HTTPURL is the same endpoint for the server APIs (Twirp),
	// http://127.0.0.1:<port>.
	HTTPURL string
	// APIKey is the key accepted by the server.
	APIKey string
	// APISecret is the secret matching APIKey.
	APISecret string
	// ConfigPath is the generated YAML config the server was started with.
	ConfigPath string
	// Process is the server's child process; its output is in
	// Process.LogPath.
	Process *Process
}

// liveKitConfig is the YAML config given to livekit-server. Every port is a
// free loopback port so that several servers can run in parallel, and ICE
// only offers 127.0.0.1 so that media never leaves the machine.
//
// Keys (see config-sample.yaml of livekit-server v1.13.11):
//   - rtc.udp_port: a single UDP port muxing all ICE traffic;
//   - rtc.enable_loopback_candidate + rtc.ips.includes: gather only the
//     loopback host candidate (the server ignores loopback by default);
//   - rtc.node_ip + use_external_ip: false: no STUN discovery.
const liveKitConfig = `port: %d
bind_addresses:
  - 127.0.0.1
rtc:
  tcp_port: %d
  udp_port: %d
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  ips:
    includes:
      - 127.0.0.1/32
keys:
  %s: %s
logging:
  level: info
`

// StartLiveKit starts `livekit-server --dev` with a generated config on
// free loopback ports and waits until it answers HTTP. The binary comes
// from [LiveKitServerBin] (the test is skipped when it is missing). The
// server is killed and reaped by t.Cleanup; its log is printed when the
// test fails.
func StartLiveKit(t testing.TB) *LiveKit {
	t.Helper()
	return StartLiveKitWith(t, "")
}

// StartLiveKitWith is StartLiveKit with more YAML appended to the
// server's config (e.g. redis and ingress sections).
func StartLiveKitWith(t testing.TB, extraConfig string) *LiveKit {
	t.Helper()
	bin := LiveKitServerBin(t)
	var lastErr error
	for attempt := 1; attempt <= liveKitStartAttempts; attempt++ {
		lk, err := startLiveKitOnce(t, bin, extraConfig)
		if err == nil {
			return lk
		}
		lastErr = err
		if lk == nil || !strings.Contains(lk.Process.Tail(logTailBytes), "address already in use") {
			break
		}
		t.Logf("livekit-server attempt %d lost a port race, retrying: %v", attempt, err)
	}
	t.Fatalf("livekit-server did not start: %v", lastErr)
	return nil
}

// startLiveKitOnce starts one server on fresh ports. On a readiness error
// it also returns the LiveKit, whose process has then exited or is killed
// at cleanup.
func startLiveKitOnce(t testing.TB, bin, extraConfig string) (*LiveKit, error) {
	t.Helper()
	ports, err := freePorts()
	if err != nil {
		return nil, err
	}
	port, tcpPort, udpPort := ports[0], ports[1], ports[2]

	cfgPath := filepath.Join(t.TempDir(), "livekit.yaml")
	cfg := fmt.Sprintf(liveKitConfig, port, tcpPort, udpPort, DevAPIKey, DevAPISecret) + extraConfig
	if err = os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("write livekit config: %w", err)
	}

	proc := StartProcess(t, "livekit-server", bin, "--dev", "--config", cfgPath)
	lk := &LiveKit{
		URL:        "ws://127.0.0.1:" + strconv.Itoa(port),
		HTTPURL:    "http://127.0.0.1:" + strconv.Itoa(port),
		APIKey:     DevAPIKey,
		APISecret:  DevAPISecret,
		ConfigPath: cfgPath,
		Process:    proc,
	}
	if err = waitHTTP(lk.HTTPURL, proc.Done(), liveKitStartTimeout); err != nil {
		t.Logf("livekit-server output:\n%s", proc.Tail(logTailBytes))
		return lk, err
	}
	return lk, nil
}

// waitHTTP polls url until it answers 200, the process exits (exited is
// closed) or the timeout expires.
func waitHTTP(url string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP status %s", resp.Status)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s within %v: %w", url, timeout, lastErr)
		case <-exited:
			return fmt.Errorf("process exited before answering on %s", url)
		case <-ticker.C:
		}
	}
}

// freePorts returns three distinct ports from FreePort: two for TCP
// (signalling, ICE/TCP) and one for UDP (ICE/UDP). Another process can
// still take one before the server binds it, which StartLiveKit retries.
func freePorts() ([3]int, error) {
	var ports [3]int
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return ports, err
		}
		ports[i] = p
	}
	return ports, nil
}
