package e2e_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// densityConfig is what TestDensity runs: TRIBUTARY_DENSITY="max=8,
// hold=60s,min_fps=28.5" (benchmarks/density.sh sets it).
type densityConfig struct {
	max    int
	hold   time.Duration
	minFPS float64
}

func parseDensity(s string) (densityConfig, error) {
	c := densityConfig{max: 8, hold: 60 * time.Second, minFPS: 28.5}
	err := parseSpec("TRIBUTARY_DENSITY", s, map[string]func(string) error{
		"":        func(string) error { return nil },
		"max":     func(v string) (err error) { c.max, err = strconv.Atoi(v); return err },
		"hold":    func(v string) (err error) { c.hold, err = time.ParseDuration(v); return err },
		"min_fps": func(v string) (err error) { c.minFPS, err = strconv.ParseFloat(v, 64); return err },
	})
	return c, err
}

// densityViewer watches one layer of one session.
type densityViewer struct {
	quality livekit.VideoQuality
	sub     *e2e.Subscriber
	sid     string
}

// TestDensity is the density benchmark, not a CI test: it runs only with
// TRIBUTARY_DENSITY set (benchmarks/density.sh). It adds 720p30 RTMP
// sources transcoded with the default preset one at a time, each layer of
// each session watched by its own viewer in a real livekit-server room on
// the same machine, and after each addition holds for a while: the count
// is held when every viewer got at least min_fps over the hold. It stops
// at the first count not held and reports the largest one held, with the
// CPU Tributary, livekit-server and the viewers used. Standalone
// admission is off (it would stop the run at its own limit, which is
// what the benchmark is there to check).
func TestDensity(t *testing.T) {
	spec := os.Getenv("TRIBUTARY_DENSITY")
	if spec == "" {
		t.Skip("density benchmark: run benchmarks/density.sh (TRIBUTARY_DENSITY=max=N,hold=D,min_fps=F)")
	}
	cfg, err := parseDensity(spec)
	require.NoError(t, err)
	src := source720p(t)
	lk := e2e.StartLiveKit(t)
	metricsPort := freePort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, LogLevel: "info",
		Extra: fmt.Sprintf("prometheus_port: %d\nstandalone_admission: false\n", metricsPort)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.max)*(cfg.hold+2*time.Minute))
	defer cancel()

	var report strings.Builder
	fmt.Fprintf(&report, "### density: 720p30 sources, default preset, every layer watched (%d CPUs, hold %v, full rate = %.1f fps)\n\n", runtime.NumCPU(), cfg.hold, cfg.minFPS)
	report.WriteString("| sources | lowest viewer fps (session/layer) | CPU cores: Tributary / livekit-server / viewers | dropped by Tributary | layers shed | held |\n|---|---|---|---|---|---|\n")
	var viewers [][]*densityViewer
	held := 0
	for n := 1; n <= cfg.max; n++ {
		name := fmt.Sprintf("density-%02d", n)
		info := createRTMP(ctx, t, c, name, "src", true)
		var vs []*densityViewer
		for _, q := range []livekit.VideoQuality{livekit.VideoQuality_LOW, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_HIGH} {
			vs = append(vs, &densityViewer{quality: q, sub: e2e.NewSubscriber(t, lk, name)})
		}
		pushLoop(t, tr, name, info.StreamKey, src, time.Duration(cfg.max+1)*(cfg.hold+2*time.Minute))
		for _, v := range vs {
			wctx, stop := context.WithTimeout(ctx, 60*time.Second)
			v.sid = watchVideo(wctx, t, v.sub)
			stop()
			require.NoError(t, v.sub.SetVideoQuality(v.sid, v.quality))
		}
		viewers = append(viewers, vs)
		// The layer switches and the new session's start settle first.
		time.Sleep(10 * time.Second)
		cpu0, dropped0, from := loadCPU(tr.PID(), lk.Process.PID()), droppedFrames(t, metricsPort), time.Now()
		time.Sleep(cfg.hold)
		cpu1, dropped1, to := loadCPU(tr.PID(), lk.Process.PID()), droppedFrames(t, metricsPort), time.Now()
		lowest, where := 1e9, ""
		for i, vs := range viewers {
			for _, v := range vs {
				if fps := framesPerSecond(v.sub.Timeline(v.sid), from, to); fps < lowest {
					lowest, where = fps, fmt.Sprintf("%d/%s", i+1, v.quality)
				}
			}
		}
		var dropped int64
		for id, d := range dropped1 {
			dropped += d - dropped0[id]
		}
		secs := to.Sub(from).Seconds()
		ok := lowest >= cfg.minFPS
		fmt.Fprintf(&report, "| %d | %.1f (%s) | %.2f / %.2f / %.2f | %d | %v | %v |\n", n, lowest, where,
			(cpu1[0]-cpu0[0])/secs, (cpu1[1]-cpu0[1])/secs, (cpu1[2]-cpu0[2])/secs, dropped,
			shedMetric(t, metricsPort, "livekit_ingress_shed_video_layers"), ok)
		t.Logf("%d sources: lowest viewer %.1f fps (%s)", n, lowest, where)
		if !ok {
			break
		}
		held = n
	}
	fmt.Fprintf(&report, "\nmost 720p30 sources held at full frame rate, every layer watched: **%d**\n", held)
	t.Log("\n" + report.String())
	if out := os.Getenv("TRIBUTARY_DENSITY_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		_, _ = f.WriteString(report.String() + "\n")
		_ = f.Close()
	}
}
