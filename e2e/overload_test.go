package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// source720p is 30 s of 720p30 H.264 (high profile, no B-frames) at 2.5
// Mbps + AAC, cached: a typical camera or OBS source, pushed with -c copy
// so that the pushing ffmpeg costs next to no CPU.
func source720p(t *testing.T) string {
	return benchSource(t, "density-720p30.flv", "1280x720", "2500k")
}

// pushLoop pushes src to an RTMP ingress in real time, looped, for d.
func pushLoop(t *testing.T, tr *tributary, name, streamKey, src string, d time.Duration) *e2e.Process {
	return e2e.StartProcess(t, "ffmpeg-"+name, e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-stream_loop", "-1", "-i", src, "-t", fmt.Sprint(d.Seconds()), "-c", "copy",
		"-f", "flv", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, streamKey))
}

// shedMetric reads a series of the overload controller's metrics
// (-1 while it is not exported).
func shedMetric(t *testing.T, port int, name string) float64 {
	t.Helper()
	v, ok := metric(scrapeMetrics(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port)), name)
	if !ok {
		return -1
	}
	return v
}

// framesPerSecond is what a viewer received over [from, to): distinct
// pictures (LiveKit's blank keyframes left out) per second, whatever the
// layer.
func framesPerSecond(pics []e2e.Picture, from, to time.Time) float64 {
	seen := map[int64]bool{}
	for _, p := range pics {
		if !p.Arrival.Before(from) && p.Arrival.Before(to) && !e2e.IsBlankFrame(p) {
			seen[p.RTPTime] = true
		}
	}
	return float64(len(seen)) / to.Sub(from).Seconds()
}

// TestStandaloneAdmission: a standalone Tributary refuses a publish whose
// cpu_cost does not fit in what the running sessions leave of the
// machine, with the reason in the ingress state, and takes it once a
// session ended. The costs are set so that one transcode fits and a
// second does not, whatever the number of cores; a passthrough session
// still fits.
func TestStandaloneAdmission(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	cores := runtime.NumCPU()
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf("cpu_cost:\n  rtmp_cpu_cost: %g\n  min_idle_ratio: 0.5\n", 0.3*float64(cores))})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	small := func(name, key string, d time.Duration) *e2e.Process {
		return e2e.StartProcess(t, "ffmpeg-"+name, e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15", "-t", fmt.Sprint(d.Seconds()),
			"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "30", "-pix_fmt", "yuv420p",
			"-f", "flv", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, key))
	}
	first := createRTMP(ctx, t, c, "adm-first", "src", true)
	second := createRTMP(ctx, t, c, "adm-second", "src", true)
	pass := createRTMP(ctx, t, c, "adm-pass", "src", false)

	ff := small("first", first.StreamKey, 60*time.Second)
	waitState(ctx, t, c, first.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	// Readiness follows admission: a load balancer stops sending here.
	code, body := httpGet(ctx, tr.HealthURL+"/availability", nil)
	require.Equal(t, http.StatusServiceUnavailable, code, "/availability with no room for a transcode: %s", body)

	small("second", second.StreamKey, 5*time.Second)
	refused := waitState(ctx, t, c, second.IngressId, livekit.IngressState_ENDPOINT_ERROR)
	t.Logf("refused: %s", refused.State.Error)
	require.Contains(t, refused.State.Error, "no CPU capacity")
	require.Contains(t, refused.State.Error, fmt.Sprintf("a transcoding RTMP session costs %.2f cores (cpu_cost)", 0.3*float64(cores)))
	require.Contains(t, logOf(t, tr), "publish refused")

	small("pass", pass.StreamKey, 60*time.Second)
	waitState(ctx, t, c, pass.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)

	// The first session ends: its share is free again.
	require.NoError(t, syscall.Kill(ff.PID(), syscall.SIGKILL))
	waitState(ctx, t, c, first.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	code, body = httpGet(ctx, tr.HealthURL+"/availability", nil)
	require.Equal(t, http.StatusOK, code, "/availability once the share is free: %s", body)
	small("second-again", second.StreamKey, 60*time.Second)
	waitState(ctx, t, c, second.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
}

// TestOverloadShedding: when the sessions a machine took still exceed it,
// Tributary sheds the top layers of the newest sessions so that the
// oldest keeps its full frame rate, and refuses new transcodes with the
// reason in their state. The machine is made small: Tributary is pinned
// to one CPU (taskset), where two 720p30 transcodes with the default
// preset fit (0.39 CPU-s per media second each, measured) and three do
// not; the costs are lowered so that admission takes all three.
func TestOverloadShedding(t *testing.T) {
	taskset := testutil.RequireTool(t, "", "", "install util-linux", "taskset")
	src := source720p(t)
	lk := e2e.StartLiveKit(t)
	metricsPort := freePort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, LogLevel: "info",
		Extra: fmt.Sprintf("prometheus_port: %d\ncpu_cost:\n  rtmp_cpu_cost: 0.1\n", metricsPort),
		Launch: func(t *testing.T, conf string) *e2e.Process {
			return e2e.StartProcess(t, "tributary", taskset, "-c", "0", tributaryBin, "--config", conf)
		},
	})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	type sess struct {
		name   string
		info   *livekit.IngressInfo
		viewer *e2e.Subscriber
		sid    string
	}
	// Transcodes are added one at a time until the machine is overloaded:
	// three on one CPU on a quiet machine, two when other programs load
	// it. One that arrives once layers are shed is refused, with the
	// reason in its state.
	var sessions []*sess
	refusedSeen := false
	for i := range 3 {
		s := &sess{name: fmt.Sprintf("overload-%d", i)}
		s.info = createRTMP(ctx, t, c, s.name, "src", true)
		pushLoop(t, tr, s.name, s.info.StreamKey, src, 3*time.Minute)
		if st := waitAny(ctx, t, c, s.info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING, livekit.IngressState_ENDPOINT_ERROR); st.State.Status == livekit.IngressState_ENDPOINT_ERROR {
			require.Contains(t, st.State.Error, "the machine is overloaded", "refused only because layers are shed")
			require.GreaterOrEqual(t, len(sessions), 2, "a lone session sheds nothing")
			refusedSeen = true
			break
		}
		s.viewer = e2e.NewSubscriber(t, lk, s.name)
		wctx, stop := context.WithTimeout(ctx, 60*time.Second)
		s.sid = watchVideo(wctx, t, s.viewer)
		stop()
		sessions = append(sessions, s)
		time.Sleep(2 * time.Second) // the oldest is the oldest by seconds
	}

	// The sessions do not fit on one CPU: the controller sheds.
	deadline := time.Now().Add(90 * time.Second)
	for shedMetric(t, metricsPort, "livekit_ingress_shed_video_layers") < 1 {
		require.True(t, time.Now().Before(deadline), "no layer was shed within 90 s although %d 720p transcodes share one CPU", len(sessions))
		time.Sleep(time.Second)
	}
	log := logOf(t, tr)
	require.Contains(t, log, "overload: shedding a video layer")
	require.Contains(t, log, "video layer paused: shed")

	// A new transcode is refused while layers are shed.
	if !refusedSeen {
		extra := createRTMP(ctx, t, c, "overload-extra", "src", true)
		pushLoop(t, tr, "extra", extra.StreamKey, src, 10*time.Second)
		refused := waitState(ctx, t, c, extra.IngressId, livekit.IngressState_ENDPOINT_ERROR)
		require.Contains(t, refused.State.Error, "the machine is overloaded")
	}

	// Once the shedding settled (no new shed for 10 s), the oldest
	// session's viewer gets the full frame rate over the next 10 s. A shed
	// inside those 10 s (a slower machine needs one more: then the oldest
	// session's top layer goes too, and its viewer is moved down a layer
	// mid-window) starts the wait over.
	var settled, to time.Time
	last := shedMetric(t, metricsPort, "livekit_ingress_video_layer_sheds_total")
	settled = time.Now()
	// What Tributary itself dropped of the oldest session, second by
	// second: tells a shortfall of its own from one on the way to the
	// viewer when the frame rate is low.
	oldestDropped := func() float64 {
		v, _ := metric(scrapeMetrics(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)),
			"livekit_ingress_session_dropped_frames_total", sessions[0].info.IngressId)
		return v
	}
	var drops []float64
	for {
		require.True(t, time.Now().Before(deadline.Add(60*time.Second)), "the shedding did not settle")
		time.Sleep(time.Second)
		if n := shedMetric(t, metricsPort, "livekit_ingress_video_layer_sheds_total"); n != last {
			last, settled = n, time.Now()
		}
		drops = append(drops, oldestDropped())
		if time.Since(settled) >= 20*time.Second {
			to = time.Now()
			break
		}
	}
	windowDrops := drops[len(drops)-1] - drops[max(0, len(drops)-11)]
	// The newest sessions shed first: the newest sheds at least as many
	// layers as the oldest, one at least. (Checked once settled: a shed
	// while the newest session is still starting, its layers not yet
	// published, lands on the next newest and moves to it once they are.)
	byIngress := shedBySession(logOf(t, tr))
	newest := sessions[len(sessions)-1].info.IngressId
	require.GreaterOrEqual(t, byIngress[newest], 1, "the newest session sheds first: %v", byIngress)
	require.GreaterOrEqual(t, byIngress[newest], byIngress[sessions[0].info.IngressId], "the newest session sheds first: %v", byIngress)
	oldest := framesPerSecond(sessions[0].viewer.Timeline(sessions[0].sid), to.Add(-10*time.Second), to)
	shed := shedMetric(t, metricsPort, "livekit_ingress_shed_video_layers")
	others := make([]string, 0, len(sessions)-1)
	for _, s := range sessions[1:] {
		others = append(others, fmt.Sprintf("%.1f", framesPerSecond(s.viewer.Timeline(s.sid), to.Add(-10*time.Second), to)))
	}
	t.Logf("%d sessions, layers shed: %v (%v sheds); the oldest session's viewer: %.1f fps (Tributary dropped %v of its frames in the window); the others: %s fps; layers shed per session: %v",
		len(sessions), shed, last, oldest, windowDrops, strings.Join(others, ", "), byIngress)
	// On a machine loaded far beyond Tributary (a load average of 20 on 2
	// CPUs), even every layer shed is not enough: the load is in the
	// message, to tell such a run from a failure of the shedding.
	loadavg, _ := os.ReadFile("/proc/loadavg")
	require.GreaterOrEqual(t, oldest, 25.0, "the oldest session keeps its full frame rate while the newer ones shed (load average: %s; dropped by Tributary in the window: %v)", strings.TrimSpace(string(loadavg)), windowDrops)
}

// shedBySession reads from Tributary's log how many layers each session
// sheds now (ingress ID → the last "video layers shed for a session").
func shedBySession(log string) map[string]int {
	out := map[string]int{}
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "overload: video layers shed for a session") {
			continue
		}
		var f struct {
			IngressID  string `json:"ingressID"`
			ShedLayers int    `json:"shedLayers"`
		}
		if i := strings.IndexByte(l, '{'); i >= 0 && json.Unmarshal([]byte(l[i:]), &f) == nil {
			out[f.IngressID] = f.ShedLayers
		}
	}
	return out
}
