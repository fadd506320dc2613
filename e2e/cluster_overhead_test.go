package e2e_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// procUsage sums CPU time (user+system, in clock ticks of 10 ms) and RSS
// (PSS, kB) of pid and its direct children.
func procUsage(t *testing.T, pid int) (cpuTicks int64, rssKB int64, procs int) {
	t.Helper()
	pids := []int{pid}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			pids = append(pids, p)
		}
	}
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		cpuTicks += u + s
		// PSS: shared library pages (libavcodec, x264) are mapped by both
		// processes and would be counted twice as RSS.
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "Pss:") {
				kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
				rssKB += kb
			}
		}
		procs++
	}
	return cpuTicks, rssKB, procs
}

// TestClusterIsolationOverhead measures what running the transcoders in a
// child process costs, against in process, on one 720p30 RTMP session
// transcoded to the default 3 layers (non-race build). It only runs with
// TRIBUTARY_MEASURE_ISOLATION=1 (benchmarks/isolation.sh) and logs the
// numbers: a measurement, not a test.
func TestClusterIsolationOverhead(t *testing.T) {
	if os.Getenv("TRIBUTARY_MEASURE_ISOLATION") == "" {
		t.Skip("set TRIBUTARY_MEASURE_ISOLATION=1 to measure")
	}
	bin := filepath.Join(t.TempDir(), "tributary")
	build := exec.Command("go", "build", "-o", bin, "../cmd/tributary")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	require.NoError(t, build.Run())
	saved := tributaryBin
	tributaryBin = bin
	defer func() { tributaryBin = saved }()

	env := startClusterEnv(t)
	cheap := "cpu_cost:\n  rtmp_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n"
	for _, isolate := range []bool{true, false, true, false} {
		w := env.startWorker(t, fmt.Sprintf("worker-isolate-%v", isolate), cheap+fmt.Sprintf("isolate_transcoding: %v\n", isolate))
		id, key := env.createRTMP(t, "measure", "m")
		ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
			"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-g", "60", "-pix_fmt", "yuv420p",
			"-c:a", "aac", "-ar", "48000", "-ac", "2", "-f", "flv", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", w.RTMPPort, key))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		waitState(ctx, t, env.ingress, id, livekit.IngressState_ENDPOINT_PUBLISHING)
		time.Sleep(5 * time.Second) // warm up: measure the steady state
		c0, _, _ := procUsage(t, w.PID())
		start := time.Now()
		time.Sleep(20 * time.Second)
		c1, rss, procs := procUsage(t, w.PID())
		el := time.Since(start).Seconds()
		t.Logf("isolate=%v: CPU %.3f cores (over %.0f s), PSS %.1f MB in %d process(es)", isolate, float64(c1-c0)/100/el, el, float64(rss)/1024, procs)
		cancel()
		_, err := env.ingress.DeleteIngress(context.Background(), &livekit.DeleteIngressRequest{IngressId: id})
		require.NoError(t, err)
		waitExit(t, ff, 20*time.Second)
		w.stopGracefully(t)
	}
}

func (w *worker) stopGracefully(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(w.PID(), syscall.SIGINT))
	waitExit(t, w.Process, 30*time.Second)
}
