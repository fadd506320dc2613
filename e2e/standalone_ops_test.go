package e2e_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestStandaloneMetricsAndIsolation runs standalone Tributary with
// prometheus_port, debug_handler_port and isolate_transcoding: true. Two RTMP sessions
// transcode, each in its own child process; the metrics show each
// session's input and per-layer output bitrates; a SIGKILL of one child
// (as a codec crash would) puts that ingress in ERROR with the reason and
// takes it out of the metrics, while the other keeps publishing.
func TestStandaloneMetricsAndIsolation(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	metricsPort, debugPort := freePort(t), freePort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf(
		"prometheus_port: %d\ndebug_handler_port: %d\nisolate_transcoding: true\nwhip_proxy_enabled: true\n", metricsPort, debugPort)})
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	victim := createRTMP(ctx, t, c, "ops-room", "victim", true)
	survivor := createRTMP(ctx, t, c, "ops-room", "survivor", true)
	sub := e2e.NewSubscriber(t, lk, "ops-room")
	ffV := ffmpegSmall(t, "ffmpeg-victim", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, victim.StreamKey), 40)
	ffS := ffmpegSmall(t, "ffmpeg-survivor", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, survivor.StreamKey), 30)
	sctx, stopS := ffS.WithExit(ctx)
	defer stopS()
	stV := waitState(ctx, t, c, victim.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	waitState(sctx, t, c, survivor.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	_, err := sub.WaitTrack(sctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "survivor" && s.Width > 0 && s.Window >= time.Second
	})
	require.NoError(t, err)

	// The metrics: per session, input and output flowing. A 640x360 source
	// gives two layers, 320x180 (layer="0") and 640x360 (layer="1"); the
	// subscriber receives the top one (LOW may be paused by dynacast).
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := scrapeMetrics(t, metricsURL)
		in, okIn := metric(m, "livekit_ingress_session_input_bitrate_bps", `ingress_id="`+victim.IngressId+`"`, `kind="video"`)
		out, okOut := metric(m, "livekit_ingress_session_output_bitrate_bps", `ingress_id="`+victim.IngressId+`"`, `kind="video"`, `layer="1"`)
		aout, okA := metric(m, "livekit_ingress_session_output_bitrate_bps", `ingress_id="`+survivor.IngressId+`"`, `kind="audio"`)
		req, okR := metric(m, "livekit_ingress_requests", `type="rtmp"`)
		if okIn && okOut && okA && okR && in > 100_000 && out > 100_000 && aout > 20_000 && req >= 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "metrics never showed both sessions flowing: in %v out %v audio %v requests %v", in, out, aout, req)
		time.Sleep(500 * time.Millisecond)
	}

	pid := childOf(t, stV.State.ResourceId)
	require.NotZero(t, pid, "the transcoding child of %s", stV.State.ResourceId)
	require.NotZero(t, childOf(t, waitState(sctx, t, c, survivor.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING).State.ResourceId),
		"each session has its own child")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	failed := waitState(ctx, t, c, victim.IngressId, livekit.IngressState_ENDPOINT_ERROR)
	require.Contains(t, failed.State.Error, "transcoding process crashed")
	waitExit(t, ffV, 20*time.Second) // its connection was closed

	cur := waitState(sctx, t, c, survivor.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Empty(t, cur.State.Error)
	before := time.Now()
	_, err = sub.WaitTrack(sctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "survivor" && s.Width > 0 && s.LastPacket.After(before.Add(2*time.Second))
	})
	require.NoError(t, err, "the survivor keeps publishing")
	_, still := metric(scrapeMetrics(t, metricsURL), "livekit_ingress_session_input_bitrate_bps", `ingress_id="`+victim.IngressId+`"`)
	require.False(t, still, "an ended session leaves the metrics")
	select {
	case <-tr.Done():
		t.Fatal("tributary died")
	default:
	}

	// debug_handler_port serves Go's profiles; a key without effect is
	// reported at start.
	code, body := clusterGet(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", debugPort))
	require.Equal(t, 200, code)
	require.Contains(t, body, "goroutine profile:")
	require.Regexp(t, `config key has no effect[^\n]*whip_proxy_enabled`, logOf(t, tr))
}
