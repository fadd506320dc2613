package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestUpstreamMetricsAndDrain: what the official worker's dashboards and
// probes read, during a transcoded RTMP session from ffmpeg:
// livekit_ingress_packet_latency_seconds (histogram, labels track and
// ingress_type) on prometheus_port, and /health and /availability on the
// WHIP port. Then SIGTERM with the default drain_timeout (0): Tributary
// stops taking sessions (/availability 503 on the WHIP port too, while
// /health stays 200) and waits for the running one to end by itself, as
// the official worker does, exiting cleanly only after ffmpeg has
// finished.
func TestUpstreamMetricsAndDrain(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	metricsPort := freePort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf("prometheus_port: %d\n", metricsPort)})
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	whipBase := fmt.Sprintf("http://127.0.0.1:%d", tr.WHIPPort)
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, path := range []string{"/health", "/availability"} {
		code, body := clusterGet(ctx, whipBase+path)
		require.Equal(t, http.StatusOK, code, "%s on the WHIP port: %s", path, body)
	}

	info := createRTMP(ctx, t, c, "ops-upstream", "enc", true)
	ff := ffmpegSmall(t, "ffmpeg", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey), 14)
	waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)

	const name = "livekit_ingress_packet_latency_seconds"
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrapeMetrics(t, metricsURL)
		v, okV := metric(m, name+"_count", `ingress_type="RTMP_INPUT"`, `track="output.video.`)
		a, okA := metric(m, name+"_count", `ingress_type="RTMP_INPUT"`, `track="output.audio"`)
		sum, _ := metric(m, name+"_sum", `ingress_type="RTMP_INPUT"`, `track="output.audio"`)
		_, okB := metric(m, name+"_bucket", `track="output.audio"`, `le="0.005"`)
		if okV && okA && okB && v >= 2 && a >= 2 {
			require.Less(t, sum/a, 2.0, "audio latency within the pipeline, in seconds")
			break
		}
		require.True(t, time.Now().Before(deadline), "no latency samples: video %v (%v) audio %v (%v)", v, okV, a, okA)
		time.Sleep(500 * time.Millisecond)
	}

	// SIGTERM drains: no new sessions, the running one may finish.
	require.NoError(t, syscall.Kill(tr.PID(), syscall.SIGTERM))
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, _ := clusterGet(ctx, whipBase+"/availability")
		if code == http.StatusServiceUnavailable {
			break
		}
		require.True(t, time.Now().Before(deadline), "/availability on the WHIP port still %d while draining", code)
		time.Sleep(200 * time.Millisecond)
	}
	code, body := clusterGet(ctx, whipBase+"/health")
	require.Equal(t, http.StatusOK, code, "alive while draining: a liveness probe must not restart it: %s", body)
	code, _ = clusterGet(ctx, tr.HealthURL+"/")
	require.Equal(t, http.StatusOK, code, "health_port / too")
	select {
	case <-tr.Done():
		t.Fatal("tributary exited with a session still running (drain_timeout 0 waits for it)")
	case <-ff.Done():
	case <-ctx.Done():
		t.Fatal("ffmpeg did not finish")
	}
	select {
	case <-tr.Done():
		require.NoError(t, tr.Err(), "a clean exit once the session has ended")
	case <-time.After(30 * time.Second):
		t.Fatal("tributary did not exit after the last session ended")
	}
}
