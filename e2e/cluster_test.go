package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// clusterEnv is a livekit-server with Redis and an ingress section, the
// way LiveKit's own ingress workers are deployed.
type clusterEnv struct {
	redis    *e2e.Redis
	lk       *e2e.LiveKit
	ingress  *lksdk.IngressClient
	cli      lkCLI
	rtmpBase string
}

// worker is one cluster-mode Tributary process.
type worker struct {
	*e2e.Process
	RTMPPort   int
	WHIPPort   int // 0: WHIP is off
	HealthURL  string
	MetricsURL string
}

func startClusterEnv(t *testing.T) *clusterEnv {
	t.Helper()
	r := e2e.StartRedis(t)
	rtmpBase := "rtmp://ingest.cluster.test:1935/live"
	lk := e2e.StartLiveKitWith(t, fmt.Sprintf(`redis:
  address: %s
ingress:
  rtmp_base_url: %s
  whip_base_url: http://ingest.cluster.test:8080/w
`, r.Addr, rtmpBase))
	return &clusterEnv{
		redis: r, lk: lk, rtmpBase: rtmpBase,
		ingress: lksdk.NewIngressClient(lk.HTTPURL, e2e.DevAPIKey, e2e.DevAPISecret),
		cli:     lkCLI{bin: e2e.LKBin(t), url: lk.HTTPURL},
	}
}

// startWorker starts a cluster-mode worker (redis configured) with extra
// YAML, and returns once its health endpoint answers.
func (env *clusterEnv) startWorker(t *testing.T, name, extra string) *worker {
	t.Helper()
	return env.startWorkerWHIP(t, name, extra, false)
}

// startWorkerWHIP is startWorker with the WHIP endpoint on when whip is
// set: on a free port, with its WebRTC media on a UDP port of its own
// (several workers run on one machine) and loopback candidates (the
// tests' clients are local).
func (env *clusterEnv) startWorkerWHIP(t *testing.T, name, extra string, whip bool) *worker {
	t.Helper()
	dir := t.TempDir()
	healthPort, metricsPort, rtmpPort := freePort(t), freePort(t), freePort(t)
	whipPort := 0
	whipConf := "whip_port: -1\n"
	if whip {
		whipPort = freePort(t)
		whipConf = fmt.Sprintf("whip_port: %d\nrtc_config:\n  udp_port: %d\n  enable_loopback_candidate: true\n", whipPort, freeUDPPort(t))
	}
	// The URL tests pull from their own servers on 127.0.0.1.
	extra = "deny_private_urls: false\n" + extra
	conf := fmt.Sprintf(`api_key: devkey
api_secret: secret
development: true
ws_url: %s
redis:
  address: %s
health_port: %d
prometheus_port: %d
rtmp_port: %d
%slogging:
  level: debug
%s`, env.lk.URL, env.redis.Addr, healthPort, metricsPort, rtmpPort, whipConf, extra)
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	p := e2e.StartProcess(t, name, tributaryBin, "--config", path)
	w := &worker{
		Process:    p,
		RTMPPort:   rtmpPort,
		WHIPPort:   whipPort,
		HealthURL:  fmt.Sprintf("http://127.0.0.1:%d", healthPort),
		MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
	}
	ctx, cancel := p.WithExit(context.Background())
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 30*time.Second)
	defer cancelT()
	for {
		if code, _ := clusterGet(ctx, w.HealthURL+"/"); code == http.StatusOK {
			return w
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not become healthy: %v", name, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func clusterGet(ctx context.Context, url string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metrics scrapes the worker and returns sample values by "name{labels}".
func (w *worker) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	return scrapeMetrics(t, w.MetricsURL)
}

// scrapeMetrics reads a Prometheus endpoint and returns sample values by
// "name{labels}".
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body := clusterGet(ctx, url)
	require.Equal(t, http.StatusOK, code, body)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// metric finds the sample whose name matches and whose labels contain all
// of the given pairs (`key="value"`).
func metric(m map[string]float64, name string, labels ...string) (float64, bool) {
	for k, v := range m {
		if !strings.HasPrefix(k, name+"{") && k != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(k, l) {
				ok = false
			}
		}
		if ok {
			return v, true
		}
	}
	return 0, false
}

// ffmpegSmall pushes 640x360 H.264 baseline + AAC for the given seconds.
func ffmpegSmall(t *testing.T, name, url string, seconds int) *e2e.Process {
	t.Helper()
	return e2e.StartProcess(t, name, e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ar", "48000", "-ac", "2", "-f", "flv", url)
}

func (env *clusterEnv) createRTMP(t *testing.T, room, identity string) (id, key string) {
	t.Helper()
	out := env.cli.mustRun(t, "ingress", "create", "--request", writeJSON(t, fmt.Sprintf(`{
		"input_type": "RTMP_INPUT", "name": %q, "room_name": %q, "participant_identity": %q}`, identity, room, identity)))
	m := reCreated.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, env.rtmpBase, m[3], "the URL comes from livekit-server's ingress.rtmp_base_url")
	return m[1], m[4]
}

func waitExit(t *testing.T, p *e2e.Process, d time.Duration) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v", p.Name, d)
	}
}

var reNoCapacity = regexp.MustCompile(`no CPU capacity for the session: a rtmp session costs 1000\.00 cores`)

// TestClusterRTMP runs two workers of a livekit-server cluster (Redis,
// psrpc). The ingress is created with the real lk CLI against
// livekit-server; a publish to the worker whose CPU budget is too small is
// declined with the reason, the other worker takes it; the room gets the
// stream; `lk ingress list` (served by livekit-server from Redis) shows
// PUBLISHING with the input described, then INACTIVE; the metrics show the
// upstream names with sensible values.
func TestClusterRTMP(t *testing.T) {
	env := startClusterEnv(t)
	busy := env.startWorker(t, "worker-busy", "cpu_cost:\n  rtmp_cpu_cost: 1000\n")
	free := env.startWorker(t, "worker-free", "cpu_cost:\n  rtmp_cpu_cost: 0.01\n  whip_cpu_cost: 0.01\n  whip_bypass_transcoding_cpu_cost: 0.01\n  url_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	code, _ := clusterGet(ctx, busy.HealthURL+"/availability")
	require.Equal(t, http.StatusServiceUnavailable, code, "a worker without CPU budget is not available")

	id, key := env.createRTMP(t, "cluster-room", "cam")
	sub := e2e.NewSubscriber(t, env.lk, "cluster-room")

	// The busy worker declines, with the reason in its log.
	ff := ffmpegSmall(t, "ffmpeg-declined", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", busy.RTMPPort, key), 10)
	waitExit(t, ff, 30*time.Second)
	require.Error(t, ff.Err(), "ffmpeg's publish is refused")
	require.Regexp(t, reNoCapacity, busy.Tail(1<<20))
	// and the refusal is in the ingress state, as the official worker
	// reports it.
	refused := waitState(ctx, t, env.ingress, id, livekit.IngressState_ENDPOINT_ERROR)
	require.Regexp(t, reNoCapacity, refused.State.Error)

	// The free worker takes it.
	ff = ffmpegSmall(t, "ffmpeg", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", free.RTMPPort, key), 14)
	fctx, stop := ff.WithExit(ctx)
	st := waitState(fctx, t, env.ingress, id, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Regexp(t, `^RT_\w{12}$`, st.State.ResourceId)
	require.Equal(t, "video/H264", st.State.Video.GetMimeType())
	require.Equal(t, uint32(640), st.State.Video.GetWidth())
	require.Equal(t, "audio/mp4a-latm", st.State.Audio.GetMimeType())
	require.NotEmpty(t, st.State.RoomId)

	out := env.cli.mustRun(t, "ingress", "list", "--json", "--id", id)
	require.Contains(t, out, `"status": "ENDPOINT_PUBLISHING"`, out)
	require.Contains(t, out, `"mimeType": "video/H264"`, out)

	p, err := sub.WaitParticipant(fctx, func(p e2e.Participant) bool {
		return p.Identity == "cam" && p.Connected && len(p.Tracks) == 2
	})
	require.NoError(t, err)
	require.Equal(t, livekit.ParticipantInfo_INGRESS, p.Kind)
	require.Equal(t, st.State.ResourceId, p.Attributes[livekit.AttrIngressResourceID])
	_, err = sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "cam" && s.Width == 640 && s.Window >= time.Second
	})
	require.NoError(t, err)

	// Metrics while the session runs (bitrates are sampled every second).
	var m map[string]float64
	for {
		m = free.metrics(t)
		if v, _ := metric(m, "livekit_ingress_session_output_bitrate_bps", `kind="video"`, `layer="0"`); v > 0 {
			break
		}
		select {
		case <-fctx.Done():
			t.Fatalf("no output bitrate in the metrics: %v", context.Cause(fctx))
		case <-time.After(500 * time.Millisecond):
		}
	}
	v, ok := metric(m, "livekit_ingress_requests", `type="rtmp"`, `transcoding="true"`)
	require.True(t, ok)
	require.Equal(t, 1.0, v)
	v, ok = metric(m, "livekit_ingress_available")
	require.True(t, ok)
	require.Contains(t, []float64{0, 1}, v)
	v, ok = metric(m, "livekit_node_cpu_load", `node_type="INGRESS"`)
	require.True(t, ok)
	require.True(t, v >= 0 && v <= 1, "cpu load %v", v)
	v, ok = metric(m, "livekit_ingress_session_input_bitrate_bps", `kind="video"`, `ingress_id="`+id+`"`)
	require.True(t, ok)
	require.Greater(t, v, 10_000.0, "input video bitrate")
	_, ok = metric(m, "livekit_ingress_session_dropped_frames_total", `ingress_id="`+id+`"`)
	require.True(t, ok)
	v, ok = metric(m, "livekit_ingress_session_added_latency_seconds", `ingress_id="`+id+`"`)
	require.True(t, ok)
	require.Less(t, v, 2.0, "added latency")
	m = busy.metrics(t)
	v, _ = metric(m, "livekit_ingress_available")
	require.Equal(t, 0.0, v, "the busy worker reports itself unavailable")

	stop()
	waitExit(t, ff, 60*time.Second)
	require.NoError(t, ff.Err(), "ffmpeg finished its push")
	end := waitState(ctx, t, env.ingress, id, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.State.Error)
	require.NotZero(t, end.State.EndedAt)
	l := env.cli.list(t, "--id", id)
	require.Contains(t, []string{"", "ENDPOINT_INACTIVE"}, l.Items[0].State.Status, "INACTIVE (protojson omits the zero value)")
	v, _ = metric(free.metrics(t), "livekit_ingress_requests", `type="rtmp"`)
	require.Equal(t, 0.0, v)
}

// TestClusterDeleteAndDrain: DeleteIngress through livekit-server stops a
// running session on the worker; SIGTERM drains (no new session, the
// running one finishes, INACTIVE), and a drain that outlasts drain_timeout
// ends the session with a correct state too.
func TestClusterDeleteAndDrain(t *testing.T) {
	env := startClusterEnv(t)
	cheap := "cpu_cost:\n  rtmp_cpu_cost: 0.01\n  whip_cpu_cost: 0.01\n  whip_bypass_transcoding_cpu_cost: 0.01\n  url_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n"
	w := env.startWorker(t, "worker", cheap+"drain_timeout: 60s\n")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// DeleteIngress stops the running session.
	id, key := env.createRTMP(t, "delete-room", "del")
	ff := ffmpegSmall(t, "ffmpeg-delete", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", w.RTMPPort, key), 60)
	fctx, stop := ff.WithExit(ctx)
	waitState(fctx, t, env.ingress, id, livekit.IngressState_ENDPOINT_PUBLISHING)
	stop()
	_, err := env.ingress.DeleteIngress(ctx, &livekit.DeleteIngressRequest{IngressId: id})
	require.NoError(t, err)
	waitExit(t, ff, 20*time.Second) // the worker closed the connection
	require.Error(t, ff.Err(), "the push was cut")
	require.Contains(t, w.Tail(1<<20), "ingress was deleted")

	// SIGTERM while a session runs: no new sessions, the running one ends
	// when its input does, INACTIVE, exit 0.
	id1, key1 := env.createRTMP(t, "drain-room", "drain1")
	id2, key2 := env.createRTMP(t, "drain-room", "drain2")
	ff = ffmpegSmall(t, "ffmpeg-drain", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", w.RTMPPort, key1), 12)
	fctx, stop = ff.WithExit(ctx)
	waitState(fctx, t, env.ingress, id1, livekit.IngressState_ENDPOINT_PUBLISHING)
	stop()
	require.NoError(t, syscall.Kill(w.PID(), syscall.SIGTERM))
	for {
		if code, _ := clusterGet(ctx, w.HealthURL+"/availability"); code == http.StatusServiceUnavailable {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("/availability never answered 503 while draining")
		case <-time.After(50 * time.Millisecond):
		}
	}
	late := ffmpegSmall(t, "ffmpeg-late", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", w.RTMPPort, key2), 5)
	waitExit(t, late, 20*time.Second)
	require.Error(t, late.Err(), "a draining worker takes no new session")
	info, err := env.ingress.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: id2})
	require.NoError(t, err)
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, info.Items[0].State.GetStatus())
	cur, err := env.ingress.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: id1})
	require.NoError(t, err)
	require.Equal(t, livekit.IngressState_ENDPOINT_PUBLISHING, cur.Items[0].State.GetStatus(), "the running session goes on while draining")

	waitExit(t, ff, 40*time.Second)
	require.NoError(t, ff.Err(), "the running push finished")
	waitExit(t, w.Process, 30*time.Second)
	require.NoError(t, w.Err(), "the worker exits 0 after the drain")
	end := waitState(ctx, t, env.ingress, id1, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.State.Error)

	// A drain that outlasts drain_timeout: the session is ended, INACTIVE.
	w2 := env.startWorker(t, "worker-short-drain", cheap+"drain_timeout: 2s\n")
	ff = ffmpegSmall(t, "ffmpeg-long", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", w2.RTMPPort, key1), 60)
	fctx, stop = ff.WithExit(ctx)
	waitState(fctx, t, env.ingress, id1, livekit.IngressState_ENDPOINT_PUBLISHING)
	stop()
	require.NoError(t, syscall.Kill(w2.PID(), syscall.SIGTERM))
	waitExit(t, w2.Process, 20*time.Second)
	require.NoError(t, w2.Err())
	end = waitState(ctx, t, env.ingress, id1, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.State.Error)
	require.Contains(t, w2.Tail(1<<20), "server is shutting down")
}

// childOf returns the pid of the transcoding child process of a worker
// that serves the given resource ID.
func childOf(t *testing.T, resourceID string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && args[1] == "transcode-child" && strings.Contains(string(b), "\x00"+resourceID+"\x00") {
			return pid
		}
	}
	return 0
}

// TestClusterCrashIsolation kills one session's transcoding child process
// with SIGKILL, as a codec crash would: that ingress goes to ERROR with the
// reason, while a parallel session in the same worker keeps publishing.
func TestClusterCrashIsolation(t *testing.T) {
	env := startClusterEnv(t)
	w := env.startWorker(t, "worker", "cpu_cost:\n  rtmp_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	idA, keyA := env.createRTMP(t, "crash-room", "victim")
	idB, keyB := env.createRTMP(t, "crash-room", "survivor")
	sub := e2e.NewSubscriber(t, env.lk, "crash-room")

	ffA := ffmpegSmall(t, "ffmpeg-victim", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", w.RTMPPort, keyA), 40)
	ffB := ffmpegSmall(t, "ffmpeg-survivor", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", w.RTMPPort, keyB), 25)
	bctx, stopB := ffB.WithExit(ctx)
	defer stopB()
	stA := waitState(ctx, t, env.ingress, idA, livekit.IngressState_ENDPOINT_PUBLISHING)
	waitState(bctx, t, env.ingress, idB, livekit.IngressState_ENDPOINT_PUBLISHING)
	_, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "survivor" && s.Width > 0 && s.Window >= time.Second
	})
	require.NoError(t, err)

	pid := childOf(t, stA.State.ResourceId)
	require.NotZero(t, pid, "the transcoding child of %s", stA.State.ResourceId)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	failed := waitState(ctx, t, env.ingress, idA, livekit.IngressState_ENDPOINT_ERROR)
	require.Contains(t, failed.State.Error, "transcoding process crashed")
	require.Contains(t, failed.State.Error, "killed")
	waitExit(t, ffA, 20*time.Second) // its connection was closed

	// The other session goes on: still PUBLISHING, and new video arrives.
	cur, err := env.ingress.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: idB})
	require.NoError(t, err)
	require.Equal(t, livekit.IngressState_ENDPOINT_PUBLISHING, cur.Items[0].State.GetStatus())
	before := time.Now()
	_, err = sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "survivor" && s.Width > 0 && s.LastPacket.After(before.Add(2*time.Second))
	})
	require.NoError(t, err, "the survivor keeps publishing")
	select {
	case <-w.Done():
		t.Fatal("the worker died")
	default:
	}
}

// TestClusterURL: a URL ingress created through livekit-server is started
// by StartIngress on the worker that bids for it (the one without CPU
// budget bids -1), plays into the room and ends COMPLETE.
func TestClusterURL(t *testing.T) {
	env := startClusterEnv(t)
	dir := t.TempDir()
	makeMedia(t, filepath.Join(dir, "clip.mp4"), "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "5",
		"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-c:a", "aac")
	base := serveFiles(t, dir)
	busy := env.startWorker(t, "worker-busy", "cpu_cost:\n  url_cpu_cost: 1000\n")
	free := env.startWorker(t, "worker-free", "cpu_cost:\n  url_cpu_cost: 0.01\n  rtmp_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sub := e2e.NewSubscriber(t, env.lk, "url-room")

	info := createURL(ctx, t, env.ingress, "url-room", "clip", base+"/clip.mp4", nil)
	require.Regexp(t, `^UR_\w{12}$`, info.State.GetResourceId())
	_, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool {
		return p.Identity == "clip" && p.Connected && len(p.Tracks) == 2
	})
	require.NoError(t, err)
	end := waitState(ctx, t, env.ingress, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	require.Empty(t, end.State.Error)
	require.Contains(t, free.Tail(1<<20), info.IngressId)
	require.NotContains(t, busy.Tail(1<<20), info.IngressId)
}

// TestClusterSRT: a cluster worker with srt_port takes an SRT push whose
// streamid is the stream key of an RTMP ingress created through
// livekit-server (the real lk CLI), authorizes it over psrpc like an RTMP
// publish, and the room gets the stream while livekit-server's record
// shows PUBLISHING with the input described.
func TestClusterSRT(t *testing.T) {
	env := startClusterEnv(t)
	srtPort := freeUDPPort(t)
	w := env.startWorker(t, "worker", fmt.Sprintf("srt_port: %d\ncpu_cost:\n  rtmp_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n", srtPort))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	id, key := env.createRTMP(t, "srt-room", "srt-cam")
	sub := e2e.NewSubscriber(t, env.lk, "srt-room")
	ff := e2e.StartProcess(t, "ffmpeg-srt", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac", "-f", "mpegts",
		fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s", srtPort, key))
	fctx, stop := ff.WithExit(ctx)
	defer stop()

	st := waitState(fctx, t, env.ingress, id, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, uint32(640), st.State.Video.GetWidth())
	require.Equal(t, "audio/mp4a-latm", st.State.Audio.GetMimeType())
	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "srt-cam" && s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.Equal(t, 640, vt.Width)
	require.InDelta(t, 30, vt.FPS, 4)
	require.Contains(t, w.Tail(1<<20), id, "the worker ran the session")

	// An unknown stream key is refused at the SRT handshake, with the
	// reason in the worker's log.
	bad := e2e.StartProcess(t, "ffmpeg-srt-bad", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "5", "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts",
		fmt.Sprintf("srt://127.0.0.1:%d?streamid=nosuchkey", srtPort))
	waitExit(t, bad, 20*time.Second)
	require.Error(t, bad.Err(), "ffmpeg's push with an unknown key fails")
	require.Contains(t, w.Tail(1<<20), "SRT publish refused")
}
