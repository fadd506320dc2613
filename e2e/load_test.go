package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// loadConfig is what TestLoad runs: TRIBUTARY_LOAD="passthrough=16,
// transcode=3,duration=10m" (benchmarks/load.sh sets it).
type loadConfig struct {
	passthrough, transcode int
	duration               time.Duration
}

func parseLoad(s string) (loadConfig, error) {
	c := loadConfig{duration: 10 * time.Minute}
	err := parseSpec("TRIBUTARY_LOAD", s, map[string]func(string) error{
		"passthrough": func(v string) (err error) { c.passthrough, err = strconv.Atoi(v); return err },
		"transcode":   func(v string) (err error) { c.transcode, err = strconv.Atoi(v); return err },
		"duration":    func(v string) (err error) { c.duration, err = time.ParseDuration(v); return err },
	})
	return c, err
}

// parseSpec parses a benchmark's "key=value,key=value" variable, env,
// with a setter per key.
func parseSpec(env, s string, keys map[string]func(string) error) error {
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		set, ok := keys[k]
		err := fmt.Errorf("unknown key %q", k)
		if ok {
			err = set(v)
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", env, s, err)
		}
	}
	return nil
}

// loadSession is one publisher and its viewer.
type loadSession struct {
	name      string
	transcode bool
	info      *livekit.IngressInfo
	ff        *e2e.Process
	progress  string
	viewer    *e2e.Subscriber
	sid       string
}

// TestLoad is the load and soak benchmark, not a CI test: it runs only
// with TRIBUTARY_LOAD set (benchmarks/load.sh). N RTMP passthrough
// sessions (1080p30 H.264 4.5 Mbps + AAC→Opus) and M 1080p→3-layer
// transcodes at once, each watched by its own viewer in a real
// livekit-server room, for the given duration. Per session: pictures the
// viewer should have had over the steady window (media clock) and
// pictures it got; latency growth (the viewer's lag over the lowest lag
// of its run, p50/p95 per minute); Tributary's RSS and goroutines after
// start-up and at the end. The report goes to stdout and
// TRIBUTARY_LOAD_OUT.
func TestLoad(t *testing.T) {
	spec := os.Getenv("TRIBUTARY_LOAD")
	if spec == "" {
		t.Skip("load benchmark: run benchmarks/load.sh (TRIBUTARY_LOAD=passthrough=N,transcode=M,duration=D)")
	}
	cfg, err := parseLoad(spec)
	require.NoError(t, err)
	src := loadSource(t)
	lk := e2e.StartLiveKit(t)
	metricsPort := freePort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, LogLevel: "debug", Extra: fmt.Sprintf("prometheus_port: %d\n", metricsPort)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+5*time.Minute)
	defer cancel()

	var sessions []*loadSession
	for i := range cfg.passthrough + cfg.transcode {
		s := &loadSession{name: fmt.Sprintf("pass-%02d", i), transcode: i >= cfg.passthrough}
		if s.transcode {
			s.name = fmt.Sprintf("tc-%02d", i-cfg.passthrough)
		}
		s.info = createRTMP(ctx, t, c, s.name, "src", s.transcode)
		s.viewer = e2e.NewSubscriber(t, lk, s.name)
		sessions = append(sessions, s)
	}
	start := time.Now()
	for _, s := range sessions {
		s.progress = filepath.Join(t.TempDir(), "progress")
		s.ff = e2e.StartProcess(t, "ffmpeg-"+s.name, e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin",
			"-re", "-stream_loop", "-1", "-i", src, "-t", fmt.Sprint(cfg.duration.Seconds()), "-c", "copy",
			"-progress", s.progress, "-f", "flv", fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, s.info.StreamKey))
		// Encoders connect one after another, as in a real start-up.
		time.Sleep(200 * time.Millisecond)
	}
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx, stop := context.WithTimeout(ctx, 60*time.Second)
			defer stop()
			s.sid = watchVideo(wctx, t, s.viewer)
		}()
	}
	wg.Wait()
	time.Sleep(10 * time.Second)
	rss0, gor0 := processRSS(tr.PID()), goroutines(t, metricsPort)
	cpu0 := loadCPU(tr.PID(), lk.Process.PID())
	udp0 := udpErrors()
	dropped0 := droppedFrames(t, metricsPort)
	steady := time.Now()
	t.Logf("all %d sessions watched after %v; RSS %d MiB, %d goroutines", len(sessions), time.Since(start).Round(time.Second), rss0>>20, gor0)
	// Again 10 s before the pushes end, and once every session has ended.
	time.Sleep(time.Until(start.Add(cfg.duration - 10*time.Second)))
	rss1, gor1 := processRSS(tr.PID()), goroutines(t, metricsPort)
	cpu1 := loadCPU(tr.PID(), lk.Process.PID())
	udp1 := udpErrors()
	sockDrops := udpDropsByProcess(tr.PID(), lk.Process.PID(), os.Getpid())
	dropped1 := droppedFrames(t, metricsPort)
	steadyFor := time.Since(steady).Seconds()
	stats := map[string]e2e.TrackStats{}
	for _, s := range sessions {
		for _, st := range s.viewer.Stats() {
			if st.TrackSID == s.sid {
				stats[s.name] = st
			}
		}
	}
	for _, s := range sessions {
		<-s.ff.Done()
	}
	for _, s := range sessions {
		waitState(ctx, t, c, s.info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	}
	time.Sleep(5 * time.Second)
	rss2, gor2 := processRSS(tr.PID()), goroutines(t, metricsPort)

	var report strings.Builder
	fmt.Fprintf(&report, "### %d passthrough + %d transcode, %v\n\n", cfg.passthrough, cfg.transcode, cfg.duration)
	fmt.Fprintf(&report, "RSS %d → %d MiB, goroutines %d → %d (10 s after start-up → 10 s before the end); after every session ended: RSS %d MiB, %d goroutines\n\n",
		rss0>>20, rss1>>20, gor0, gor1, rss2>>20, gor2)
	fmt.Fprintf(&report, "Where pictures go missing, over the steady window (%.0f s): CPU cores used by Tributary %.2f, livekit-server %.2f, the test process (the viewers) %.2f, of %d; kernel UDP receive-buffer drops %d, UDP input errors %d (any socket on the machine: the SFU's and the viewers')\n\n",
		steadyFor, (cpu1[0]-cpu0[0])/steadyFor, (cpu1[1]-cpu0[1])/steadyFor, (cpu1[2]-cpu0[2])/steadyFor, runtime.NumCPU(), udp1[0]-udp0[0], udp1[1]-udp0[1])
	fmt.Fprintf(&report, "UDP datagrams dropped by a full receive buffer, per owner of the socket (sockets open at the end of the steady window, since they opened): Tributary %d, livekit-server %d, the viewers %d\n\n",
		sockDrops[0], sockDrops[1], sockDrops[2])
	report.WriteString("| session | pushed | expected | received | lost | dropped by Tributary (steady window) | RTP packets the viewer missed | lag p50/p95 first min | lag p50/p95 last min |\n|---|---|---|---|---|---|---|---|---|\n")
	totalLost := 0
	for _, s := range sessions {
		pushed := progressFrames(s.progress)
		r := reviewLoad(s.viewer.Timeline(s.sid))
		totalLost += r.lost
		fmt.Fprintf(&report, "| %s | %d | %d | %d | %d | %d | %d | %v / %v | %v / %v |\n", s.name, pushed, r.expected, r.received, r.lost,
			dropped1[s.info.IngressId]-dropped0[s.info.IngressId], stats[s.name].LostPackets,
			r.first[0], r.first[1], r.last[0], r.last[1])
	}
	fmt.Fprintf(&report, "\nlost in all: %d\n", totalLost)
	// A transcoder's own counts (pictures it decoded, left out for the
	// frame-rate cap, found stale, dropped before decoding or per layer)
	// are in its last debug line.
	if b, err := os.ReadFile(tr.LogPath); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "video transcoder done") {
				fmt.Fprintf(&report, "\n    %s", line)
			}
		}
		report.WriteString("\n")
	}
	t.Log("\n" + report.String())
	if out := os.Getenv("TRIBUTARY_LOAD_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		_, _ = f.WriteString(report.String() + "\n")
		_ = f.Close()
	}
}

// loadReview is one viewer's run: over the steady window (from 5 s after
// its first picture to 3 s before its last, on the media clock) how many
// pictures a 30 fps source should have given and how many came, and its
// lag over its lowest, p50/p95 in its first and last minute.
type loadReview struct {
	expected, received, lost int
	first, last              [2]time.Duration
}

func reviewLoad(pics []e2e.Picture) loadReview {
	var r loadReview
	if len(pics) < 2 {
		return r
	}
	from := pics[0].RTPTime + 5*90000
	to := pics[len(pics)-1].RTPTime - 3*90000
	seen := map[int64]bool{}
	for _, p := range pics {
		if p.RTPTime >= from && p.RTPTime <= to && !e2e.IsBlankFrame(p) {
			seen[p.RTPTime] = true
		}
	}
	r.received = len(seen)
	r.expected = int((to-from)*30/90000) + 1
	r.lost = max(0, r.expected-r.received)
	lag := func(p e2e.Picture) time.Duration {
		return p.Arrival.Sub(pics[0].Arrival) - time.Duration(p.RTPTime-pics[0].RTPTime)*time.Second/90000
	}
	low := lag(pics[0])
	for _, p := range pics {
		low = min(low, lag(p))
	}
	window := func(from, to time.Time) [2]time.Duration {
		var l []time.Duration
		for _, p := range pics {
			if !p.Arrival.Before(from) && p.Arrival.Before(to) {
				l = append(l, lag(p)-low)
			}
		}
		if len(l) == 0 {
			return [2]time.Duration{}
		}
		slices.Sort(l)
		return [2]time.Duration{l[len(l)/2].Round(time.Millisecond), l[len(l)*95/100].Round(time.Millisecond)}
	}
	t0, t1 := pics[0].Arrival, pics[len(pics)-1].Arrival
	r.first = window(t0.Add(5*time.Second), t0.Add(65*time.Second))
	r.last = window(t1.Add(-63*time.Second), t1.Add(-3*time.Second))
	return r
}

// loadSource is 30 s of 1080p30 H.264 constrained baseline at 4.5 Mbps +
// AAC 48 kHz stereo (as benchmarks/passthrough.sh makes it), cached.
func loadSource(t *testing.T) string {
	return benchSource(t, "load-1080p30-baseline-gapless.flv", "1920x1080", "4500k", "-profile:v", "baseline")
}

// benchSource makes (once: it is cached) 30 s of 30 fps H.264 without
// B-frames, a keyframe every 2 s, at a constant bitrate, with noise so
// that encoders have real work, and AAC 48 kHz stereo, in FLV, for
// looping. The audio stops at 29.5 s: ffmpeg's -stream_loop moves each
// loop by the longest stream's duration, and 30 s of AAC is 30.016 s of
// packets (1024 samples each), which put a 50 ms hole in the video at
// every loop — a picture "lost" every second loop that no process
// dropped (9–10 per viewer in a 10-minute run). Ending the audio early
// keeps the video's timeline gapless; the audio has 0.5 s of silence per
// loop instead.
func benchSource(t *testing.T, name, size, bitrate string, x264 ...string) string {
	dir := filepath.Join(os.Getenv("HOME"), ".cache", "tributary", "bench")
	out := filepath.Join(dir, name)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=30,noise=alls=12:allf=t+u",
		"-f", "lavfi", "-t", "29.5", "-i", "sine=frequency=440:sample_rate=48000", "-t", "30",
		"-c:v", "libx264", "-preset", "veryfast"}
	args = append(append(args, x264...), "-bf", "0", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
		"-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-f", "flv", out+".tmp")
	b, err := exec.Command(e2e.FFmpegBin(t), args...).CombinedOutput()
	require.NoError(t, err, string(b))
	require.NoError(t, os.Rename(out+".tmp", out))
	return out
}

// progressFrames is the last frame count ffmpeg's -progress file shows.
func progressFrames(path string) int {
	b, _ := os.ReadFile(path)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "frame="); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return n
}

func processRSS(pid int) uint64 {
	return (&rssWatch{pid: pid}).now()
}

// goroutines reads go_goroutines from the Prometheus endpoint.
func goroutines(t *testing.T, port int) int {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// loadCPU is the CPU seconds used so far by Tributary, livekit-server and
// this test process (whose goroutines are the viewers).
func loadCPU(tributary, livekit int) [3]float64 {
	var c [3]float64
	for i, pid := range []int{tributary, livekit, os.Getpid()} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		c[i] = float64(u+s) / 100 // USER_HZ
	}
	return c
}

// udpErrors is the kernel's UDP RcvbufErrors and InErrors counters
// (/proc/net/snmp), IPv4: datagrams lost because a socket's receive buffer
// was full, whoever owned the socket.
func udpErrors() [2]int64 {
	b, _ := os.ReadFile("/proc/net/snmp")
	var names, values []string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Udp: "); ok {
			if names == nil {
				names = strings.Fields(rest)
			} else {
				values = strings.Fields(rest)
			}
		}
	}
	var r [2]int64
	for i, n := range names {
		if i >= len(values) {
			break
		}
		v, _ := strconv.ParseInt(values[i], 10, 64)
		switch n {
		case "RcvbufErrors":
			r[0] = v
		case "InErrors":
			r[1] = v
		}
	}
	return r
}

// droppedFrames reads livekit_ingress_session_dropped_frames_total per
// ingress ID from the Prometheus endpoint.
func droppedFrames(t *testing.T, port int) map[string]int64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "livekit_ingress_session_dropped_frames_total{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		_, id, _ := strings.Cut(labels, `ingress_id="`)
		id, _, _ = strings.Cut(id, `"`)
		v, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
		m[id] = int64(v)
	}
	return m
}

// udpDropsByProcess sums the "drops" column of /proc/net/udp{,6} over the
// UDP sockets each process holds open.
func udpDropsByProcess(pids ...int) []int64 {
	drops := map[string]int64{} // socket inode → drops
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 13 {
				continue
			}
			d, _ := strconv.ParseInt(fields[len(fields)-1], 10, 64)
			drops[fields[9]] = d
		}
	}
	out := make([]int64, len(pids))
	for i, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			link, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				out[i] += drops[strings.TrimSuffix(inode, "]")]
			}
		}
	}
	return out
}
