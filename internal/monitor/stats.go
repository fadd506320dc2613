package monitor

import (
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/prometheus/client_golang/prometheus"
)

// SessionStats is what a running session exposes to the metrics: counters
// the media pipeline increments (pipeline.Stats implements it).
type SessionStats interface {
	// InputBytes returns the bytes received from the source per kind
	// ("video", "audio").
	InputBytes() (video, audio int64)
	// OutputBytes returns the bytes sent to the room per video layer (index
	// 0 is the lowest quality, as in the published layers) and for audio.
	OutputBytes() (video []int64, audio int64)
	// DroppedFrames returns how many frames were dropped because the
	// session could not keep up (see pipeline.Stats.DroppedFrames).
	DroppedFrames() int64
	// AddedLatency returns the latest measured time between a frame's
	// arrival and its release to the room (0 when not measured yet).
	AddedLatency() time.Duration
}

// LatencySource is what a SessionStats may also implement to feed
// livekit_ingress_packet_latency_seconds: DrainLatency hands over the
// latency samples taken since its last call, each with its output track
// as the official worker labels them ("output.audio",
// "output.video.HIGH", …).
type LatencySource interface {
	DrainLatency(fn func(track string, latency time.Duration))
}

// DelaySource is what a SessionStats may also implement to feed
// livekit_ingress_session_transcode_delay_seconds: the release delay in
// force of a transcoding session (false when it does not transcode).
type DelaySource interface {
	TranscodeDelay() (time.Duration, bool)
}

// tracked is one session known to the metrics.
type tracked struct {
	seq         uint64   // the order the sessions started in
	labels      []string // ingress_id, resource_id, type
	ingressType string   // the ingress_type label: RTMP_INPUT, WHIP_INPUT, URL_INPUT
	stats       SessionStats

	mu       sync.Mutex
	lastAt   time.Time
	lastIn   [2]int64
	lastOut  []int64
	lastAOut int64
	inRate   [2]float64 // bits per second, video and audio
	outRate  []float64  // per video layer
	aOutRate float64
}

// sample refreshes the bitrates from the counters.
func (t *tracked) sample(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, a := t.stats.InputBytes()
	ov, oa := t.stats.OutputBytes()
	if !t.lastAt.IsZero() {
		dt := now.Sub(t.lastAt).Seconds()
		if dt <= 0 {
			return
		}
		t.inRate[0] = float64(v-t.lastIn[0]) * 8 / dt
		t.inRate[1] = float64(a-t.lastIn[1]) * 8 / dt
		t.outRate = make([]float64, len(ov))
		for i := range ov {
			var prev int64
			if i < len(t.lastOut) {
				prev = t.lastOut[i]
			}
			t.outRate[i] = float64(ov[i]-prev) * 8 / dt
		}
		t.aOutRate = float64(oa-t.lastAOut) * 8 / dt
	}
	t.lastAt, t.lastIn, t.lastOut, t.lastAOut = now, [2]int64{v, a}, ov, oa
}

// sessionCollector exports the per-session metrics of every tracked
// session at scrape time.
type sessionCollector struct {
	m *Monitor

	inBitrate  *prometheus.Desc
	outBitrate *prometheus.Desc
	inBytes    *prometheus.Desc
	outBytes   *prometheus.Desc
	dropped    *prometheus.Desc
	latency    *prometheus.Desc
	delay      *prometheus.Desc
}

func newSessionCollector(m *Monitor, constLabels prometheus.Labels) *sessionCollector {
	l := []string{"ingress_id", "resource_id", "type"}
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("livekit_ingress_session_"+name, help, append(append([]string{}, l...), extra...), constLabels)
	}
	return &sessionCollector{
		m:          m,
		inBitrate:  d("input_bitrate_bps", "Bitrate received from the source over the last second, per kind.", "kind"),
		outBitrate: d("output_bitrate_bps", "Bitrate sent to the room over the last second, per video layer (0 = lowest quality) or audio.", "kind", "layer"),
		inBytes:    d("input_bytes_total", "Bytes received from the source, per kind.", "kind"),
		outBytes:   d("output_bytes_total", "Bytes sent to the room, per video layer or audio.", "kind", "layer"),
		dropped:    d("dropped_frames_total", "Frames dropped because the session could not keep up: source frames, pictures and encoded frames, each counted where a queue had no room for it."),
		latency:    d("added_latency_seconds", "Time between a frame's arrival and its release to the room (latest measurement)."),
		delay:      d("transcode_delay_seconds", "Release delay of a transcoding session: adapted to the time the transcoder takes, or pinned by transcode_delay."),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inBitrate, c.outBitrate, c.inBytes, c.outBytes, c.dropped, c.latency, c.delay} {
		ch <- d
	}
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.m.trackedSessions() {
		v, a := t.stats.InputBytes()
		ov, oa := t.stats.OutputBytes()
		t.mu.Lock()
		inRate, outRate, aOutRate := t.inRate, append([]float64(nil), t.outRate...), t.aOutRate
		t.mu.Unlock()
		lv := func(extra ...string) []string { return append(append([]string{}, t.labels...), extra...) }
		ch <- prometheus.MustNewConstMetric(c.inBitrate, prometheus.GaugeValue, inRate[0], lv("video")...)
		ch <- prometheus.MustNewConstMetric(c.inBitrate, prometheus.GaugeValue, inRate[1], lv("audio")...)
		ch <- prometheus.MustNewConstMetric(c.inBytes, prometheus.CounterValue, float64(v), lv("video")...)
		ch <- prometheus.MustNewConstMetric(c.inBytes, prometheus.CounterValue, float64(a), lv("audio")...)
		for i, b := range ov {
			layer := fmt.Sprint(i)
			var r float64
			if i < len(outRate) {
				r = outRate[i]
			}
			ch <- prometheus.MustNewConstMetric(c.outBitrate, prometheus.GaugeValue, r, lv("video", layer)...)
			ch <- prometheus.MustNewConstMetric(c.outBytes, prometheus.CounterValue, float64(b), lv("video", layer)...)
		}
		ch <- prometheus.MustNewConstMetric(c.outBitrate, prometheus.GaugeValue, aOutRate, lv("audio", "")...)
		ch <- prometheus.MustNewConstMetric(c.outBytes, prometheus.CounterValue, float64(oa), lv("audio", "")...)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(t.stats.DroppedFrames()), lv()...)
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, t.stats.AddedLatency().Seconds(), lv()...)
		if src, ok := t.stats.(DelaySource); ok {
			if d, ok := src.TranscodeDelay(); ok {
				ch <- prometheus.MustNewConstMetric(c.delay, prometheus.GaugeValue, d.Seconds(), lv()...)
			}
		}
	}
}

// inputLabel is the "type" label of an input, as upstream spells it.
func inputLabel(t livekit.IngressInput) string {
	switch t {
	case livekit.IngressInput_RTMP_INPUT:
		return "rtmp"
	case livekit.IngressInput_WHIP_INPUT:
		return "whip"
	case livekit.IngressInput_URL_INPUT:
		return "url"
	}
	return "unknown"
}

// observeLatency moves the session's latency samples into the histogram.
func (t *tracked) observeLatency(h *prometheus.HistogramVec) {
	src, ok := t.stats.(LatencySource)
	if !ok {
		return
	}
	src.DrainLatency(func(track string, latency time.Duration) {
		h.WithLabelValues(track, t.ingressType).Observe(latency.Seconds())
	})
}
