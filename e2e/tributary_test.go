package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// tributary is one running Tributary process.
type tributary struct {
	*e2e.Process
	RTMPPort   int
	WHIPPort   int
	UDPPort    int // rtc_config.udp_port, when the harness chose it
	APIURL     string
	HealthURL  string
	ConfigPath string
	StorePath  string
}

// tributaryOpts configures startTributary; zero values pick free ports and
// a store in a fresh temp dir.
type tributaryOpts struct {
	WsURL     string
	StorePath string
	Extra     string // more YAML
	// URLGuard keeps deny_private_urls at its default (on). Without it
	// the config turns the guard off, so that URL ingresses can pull from
	// the test's own servers on 127.0.0.1.
	URLGuard bool
	LogLevel string // default debug
	LogJSON  bool   // logging.json: true
	// LogExtra is more YAML inside logging: (indented by two spaces).
	LogExtra string
	// Launch starts the process from the config file written (default:
	// the binary built for the tests, run directly).
	Launch func(t *testing.T, confPath string) *e2e.Process
}

// freePort returns a port for a server under test (TCP or UDP) that is
// free, below the ephemeral range, and not given to another test.
func freePort(t *testing.T) int {
	t.Helper()
	return e2e.MustFreePort(t)
}

// startTributary writes a config file and starts the binary, returning once
// its health endpoint answers. A start that lost a port to another process
// between the harness choosing it and Tributary binding it ("address
// already in use") is retried on new ports.
func startTributary(t *testing.T, o tributaryOpts) *tributary {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		tr, err := startTributaryOnce(t, o)
		if err == nil {
			return tr
		}
		if attempt == attempts || !strings.Contains(tr.Tail(1<<16), "address already in use") {
			t.Fatalf("tributary did not become healthy: %v", err)
		}
		t.Logf("tributary attempt %d lost a port race, retrying on new ports: %v", attempt, err)
	}
}

// startTributaryOnce is one attempt of startTributary; on error the
// returned tributary's process has exited or is killed at cleanup.
func startTributaryOnce(t *testing.T, o tributaryOpts) (*tributary, error) {
	t.Helper()
	dir := t.TempDir()
	if o.StorePath == "" {
		o.StorePath = filepath.Join(dir, "ingress.db")
	}
	if o.WsURL == "" {
		o.WsURL = "ws://127.0.0.1:7880"
	}
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
	if !o.URLGuard {
		o.Extra = "deny_private_urls: false\n" + o.Extra
	}
	apiPort, healthPort, rtmpPort, whipPort := freePort(t), freePort(t), freePort(t), freePort(t)
	// WHIP media shares one UDP port (7885 by default): each Tributary
	// of the tests, which run in parallel, gets a free one, unless the
	// test writes its own rtc_config.
	var udpPort int
	if !strings.Contains(o.Extra, "rtc_config:") {
		udpPort = freeUDPPort(t)
		o.Extra += fmt.Sprintf("rtc_config:\n  udp_port: %d\n", udpPort)
	}
	logging := fmt.Sprintf("  level: %s\n", o.LogLevel)
	if o.LogJSON {
		logging += "  json: true\n"
	}
	logging += o.LogExtra
	conf := fmt.Sprintf(`api_key: devkey
api_secret: secret
development: true
ws_url: %s
api_port: %d
health_port: %d
rtmp_port: %d
whip_port: %d
store_path: %s
rtmp_base_url: rtmp://ingest.test:1935/live
whip_base_url: https://ingest.test/w
logging:
%s%s`, o.WsURL, apiPort, healthPort, rtmpPort, whipPort, o.StorePath, logging, o.Extra)
	confPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))

	var p *e2e.Process
	if o.Launch != nil {
		p = o.Launch(t, confPath)
	} else {
		p = e2e.StartProcess(t, "tributary", tributaryBin, "--config", confPath)
	}
	tr := &tributary{
		Process:    p,
		RTMPPort:   rtmpPort,
		WHIPPort:   whipPort,
		UDPPort:    udpPort,
		APIURL:     fmt.Sprintf("http://127.0.0.1:%d", apiPort),
		HealthURL:  fmt.Sprintf("http://127.0.0.1:%d", healthPort),
		ConfigPath: confPath,
		StorePath:  o.StorePath,
	}
	ctx, cancel := p.WithExit(context.Background())
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 20*time.Second)
	defer cancelT()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tr.HealthURL+"/availability", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return tr, nil
			}
		}
		select {
		case <-ctx.Done():
			return tr, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill9 kills the process without letting it clean up, and waits for it.
func (tr *tributary) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(-tr.PID(), syscall.SIGKILL))
	select {
	case <-tr.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("tributary did not die after SIGKILL")
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (tr *tributary) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(tr.PID(), syscall.SIGTERM))
	select {
	case <-tr.Done():
		require.NoError(t, tr.Err(), "tributary should exit 0 on SIGTERM")
	case <-time.After(40 * time.Second):
		t.Fatal("tributary did not exit after SIGTERM")
	}
}
