package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

// latencyStats is a session with latency samples waiting.
type latencyStats struct {
	fakeStats
	samples []time.Duration
}

func (l *latencyStats) DrainLatency(fn func(string, time.Duration)) {
	for _, d := range l.samples {
		fn("output.video.HIGH", d)
	}
	l.samples = nil
}

// TestPacketLatencyMetric: livekit_ingress_packet_latency_seconds is the
// official worker's histogram — same name, type, buckets (5 ms doubling,
// 12 of them) and labels (track, ingress_type) — fed from the sessions'
// samples.
func TestPacketLatencyMetric(t *testing.T) {
	m := newTestMonitor(t, Config{Cores: 8, NodeID: "n1"})
	st := &latencyStats{samples: []time.Duration{3 * time.Millisecond, 30 * time.Millisecond, 300 * time.Millisecond}}
	untrack := m.Track(&livekit.IngressInfo{IngressId: "IN_x", InputType: livekit.IngressInput_RTMP_INPUT}, "RT_y", st)
	m.sample(time.Now())
	st.samples = []time.Duration{40 * time.Millisecond}
	untrack() // the last samples count too

	out := scrape(t, m)
	const series = `livekit_ingress_packet_latency_seconds_bucket{ingress_type="RTMP_INPUT",track="output.video.HIGH",`
	for _, want := range []string{
		"# TYPE livekit_ingress_packet_latency_seconds histogram",
		series + `le="0.005"} 1`,
		series + `le="0.01"} 1`,
		series + `le="0.02"} 1`,
		series + `le="0.04"} 3`,
		series + `le="0.08"} 3`,
		series + `le="0.32"} 4`,
		series + `le="10.24"} 4`,
		series + `le="+Inf"} 4`,
		`livekit_ingress_packet_latency_seconds_count{ingress_type="RTMP_INPUT",track="output.video.HIGH"} 4`,
	} {
		require.Contains(t, out, want)
	}
	require.Equal(t, 13, strings.Count(out, series), "12 buckets and +Inf")
}
