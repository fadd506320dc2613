package monitor

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		idle  uint64
		total uint64
		err   bool
	}{
		{name: "linux", in: "cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n", idle: 820, total: 981},
		{name: "short", in: "cpu  1 2 3 4\n", idle: 4, total: 10},
		{name: "no cpu line", in: "intr 1 2 3\n", err: true},
		{name: "garbage", in: "cpu  1 x 3 4\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			got, err := parseProcStat(in)
			require.Equal(t, tc.in, string(in), "input not mutated")
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, cpuTimes{idle: tc.idle, total: tc.total}, got)
		})
	}
}

func TestIdleCores(t *testing.T) {
	got, ok := idleCores(cpuTimes{idle: 100, total: 200}, cpuTimes{idle: 150, total: 300}, 4)
	require.True(t, ok)
	require.InDelta(t, 2.0, got, 1e-9)
	_, ok = idleCores(cpuTimes{idle: 100, total: 200}, cpuTimes{idle: 100, total: 200}, 4)
	require.False(t, ok, "no time passed")
}

func newTestMonitor(t *testing.T, c Config) *Monitor {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stat")
	require.NoError(t, os.WriteFile(p, []byte("cpu  1 0 1 8 0 0 0 0\n"), 0o600))
	c.ProcStat = p
	c.SampleInterval = time.Hour
	m, err := New(c)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

func TestAdmission(t *testing.T) {
	m := newTestMonitor(t, Config{Admission: true, Cores: 8, NodeID: "n1"})
	m.mu.Lock()
	m.idle = 5 // 5 of 8 cores idle; the reserve is 0.3 x 8 = 2.4
	m.mu.Unlock()

	require.True(t, m.CanAccept(), "5 - 2.4 = 2.6 > 2")
	require.True(t, m.CanAcceptIngress(livekit.IngressInput_URL_INPUT, true))
	require.NoError(t, m.Admit(livekit.IngressInput_RTMP_INPUT, true), "admission keeps half the reserve: 5 - 1.2 = 3.8 > 2")
	require.False(t, m.CanAccept(), "the pending session counts: 5 - 2 - 2.4 = 0.6")
	require.NoError(t, m.Admit(livekit.IngressInput_WHIP_INPUT, false), "WHIP without transcoding costs 0.1: 5 - 2 - 1.2 = 1.8")
	err := m.Admit(livekit.IngressInput_RTMP_INPUT, true) // 5 - 2.1 - 1.2 = 1.7 < 2
	require.True(t, errors.Is(err, ErrNoCapacity), "%v", err)
	require.Contains(t, err.Error(), "a rtmp session costs 2.00 cores")

	// Pending charges expire once the measurement has caught up.
	m.mu.Lock()
	for i := range m.pending {
		m.pending[i].until = time.Now().Add(-time.Second)
	}
	m.mu.Unlock()
	require.True(t, m.CanAccept())

	m.SetDraining()
	require.False(t, m.CanAccept())
	require.False(t, m.CanAcceptIngress(livekit.IngressInput_URL_INPUT, true))
	require.ErrorIs(t, m.Admit(livekit.IngressInput_WHIP_INPUT, false), ErrNoCapacity)
}

func TestAdmissionOff(t *testing.T) {
	m := newTestMonitor(t, Config{Cores: 1})
	m.mu.Lock()
	m.idle = 0
	m.mu.Unlock()
	require.True(t, m.CanAccept())
	require.NoError(t, m.Admit(livekit.IngressInput_RTMP_INPUT, true))
}

func TestCostsDefaults(t *testing.T) {
	require.Equal(t, DefaultCosts, Costs{}.WithDefaults())
	c := Costs{RTMP: 0.5, MinIdleRatio: 0.1}.WithDefaults()
	require.Equal(t, Costs{RTMP: 0.5, WHIP: 2, WHIPBypass: 0.1, URL: 2, MinIdleRatio: 0.1}, c)
}

type fakeStats struct{}

func (fakeStats) InputBytes() (int64, int64)    { return 1000, 200 }
func (fakeStats) OutputBytes() ([]int64, int64) { return []int64{800, 300}, 150 }
func (fakeStats) DroppedFrames() int64          { return 3 }
func (fakeStats) AddedLatency() time.Duration   { return 40 * time.Millisecond }
func (fakeStats) TranscodeDelay() (time.Duration, bool) {
	return 120 * time.Millisecond, true
}

func TestMetrics(t *testing.T) {
	m := newTestMonitor(t, Config{Admission: true, Cores: 8, NodeID: "n1"})
	on := true
	info := &livekit.IngressInfo{IngressId: "IN_x", InputType: livekit.IngressInput_RTMP_INPUT, EnableTranscoding: &on}
	untrack := m.Track(info, "RT_y", fakeStats{})
	m.sample(time.Now())
	out := scrape(t, m)
	for _, want := range []string{
		`livekit_ingress_requests{node_id="n1",transcoding="true",type="rtmp"} 1`,
		`livekit_ingress_available{node_id="n1"}`,
		`livekit_node_cpu_load{node_id="n1",node_type="INGRESS"}`,
		`livekit_ingress_session_input_bytes_total{ingress_id="IN_x",kind="video",node_id="n1",resource_id="RT_y",type="rtmp"} 1000`,
		`livekit_ingress_session_output_bytes_total{ingress_id="IN_x",kind="video",layer="1",node_id="n1",resource_id="RT_y",type="rtmp"} 300`,
		`livekit_ingress_session_dropped_frames_total{ingress_id="IN_x",node_id="n1",resource_id="RT_y",type="rtmp"} 3`,
		`livekit_ingress_session_added_latency_seconds{ingress_id="IN_x",node_id="n1",resource_id="RT_y",type="rtmp"} 0.04`,
		`livekit_ingress_session_transcode_delay_seconds{ingress_id="IN_x",node_id="n1",resource_id="RT_y",type="rtmp"} 0.12`,
	} {
		require.Contains(t, out, want)
	}
	untrack()
	untrack()
	out = scrape(t, m)
	require.Contains(t, out, `livekit_ingress_requests{node_id="n1",transcoding="true",type="rtmp"} 0`)
	require.False(t, strings.Contains(out, "IN_x"), "an ended session is no longer exported")
}

// scrape reads the monitor's metrics endpoint.
func scrape(t *testing.T, m *Monitor) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
