// Package monitor is a worker's view of its own load: the idle CPU it
// measures, the CPU cost it charges per session (admission control, as
// LiveKit's ingress worker does it), and the Prometheus metrics with the
// upstream names plus per-session media counters.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Costs is the CPU, in cores, charged per session type, and the share of
// the machine kept idle (config key cpu_cost).
type Costs struct {
	RTMP         float64
	WHIP         float64
	WHIPBypass   float64 // WHIP without transcoding
	URL          float64
	MinIdleRatio float64
}

// DefaultCosts are the upstream defaults (LiveKit ingress docs), those of
// cluster mode.
var DefaultCosts = Costs{RTMP: 2, WHIP: 2, WHIPBypass: 0.1, URL: 2, MinIdleRatio: 0.3}

// StandaloneCosts are the defaults of standalone admission (Config.Committed),
// Tributary's own: the upstream ones are sized for a GStreamer pipeline
// and would refuse nearly every transcode on a small machine. Measured
// (benchmarks/RESULTS.md), a transcode with the default preset costs
// 0.39 CPU-s per media second from a 720p30 source and 0.49 from a
// 1080p30 one, a passthrough session under 0.08 including its share of the
// server. With 10 % of the machine kept free, a 2-core machine takes four
// transcodes and refuses a fifth (which would drop every session's frame
// rate), or 36 passthrough sessions.
var StandaloneCosts = Costs{RTMP: 0.4, WHIP: 0.4, WHIPBypass: 0.05, URL: 0.4, MinIdleRatio: 0.1}

// WithDefaults fills every zero value from DefaultCosts.
func (c Costs) WithDefaults() Costs { return c.withDefaults(DefaultCosts) }

func (c Costs) withDefaults(d Costs) Costs {
	for _, p := range []struct{ v, def *float64 }{
		{&c.RTMP, &d.RTMP}, {&c.WHIP, &d.WHIP}, {&c.WHIPBypass, &d.WHIPBypass}, {&c.URL, &d.URL}, {&c.MinIdleRatio, &d.MinIdleRatio},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	return c
}

func (c Costs) max() float64 { return max(c.RTMP, c.WHIP, c.WHIPBypass, c.URL) }

// ErrNoCapacity is the reason a worker declines a session.
var ErrNoCapacity = errors.New("no CPU capacity for the session")

// Config configures a Monitor.
type Config struct {
	Costs  Costs // zero values take the defaults
	NodeID string
	Logger logger.Logger
	// Admission turns CPU admission control on; without it every session
	// is accepted (the metrics are still measured).
	Admission bool
	// Committed is standalone admission: a session is admitted while the
	// costs of the sessions Reserve admitted, its own included, fit in
	// the machine less the idle reserve. The measured idle CPU is not
	// used: a standalone node shares its machine with the LiveKit server
	// and others, whose load would make admission depend on them. Zero
	// costs take StandaloneCosts; sessions that do not transcode are
	// charged whip_bypass_transcoding_cpu_cost whatever their input.
	Committed bool
	// SampleInterval is how often idle CPU is measured (default 1 s).
	SampleInterval time.Duration
	// PendingHold is how long an admitted session's cost is charged on
	// top of the measured load, until the measurement reflects it
	// (default 2 s).
	PendingHold time.Duration
	// Shed configures the overload controller (see shed.go); zero values
	// take the defaults.
	Shed ShedConfig
	// ProcStat is the file read for CPU times (default /proc/stat).
	ProcStat string
	// Cores is the number of CPUs (default runtime.NumCPU()).
	Cores float64
}

type pendingCost struct {
	cost  float64
	until time.Time
}

// Monitor measures load, admits sessions and serves the metrics. Close
// stops it.
type Monitor struct {
	conf Config
	log  logger.Logger
	reg  *prometheus.Registry

	cpuLoad  prometheus.Gauge
	requests *prometheus.GaugeVec
	latency  *prometheus.HistogramVec

	mu        sync.Mutex
	idle      float64
	prev      cpuTimes
	pending   []pendingCost
	committed float64 // Committed mode: the costs of the running sessions
	draining  bool
	sessions  map[*tracked]struct{}
	seq       uint64 // order of the tracked sessions
	shed      *shedder

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New starts a Monitor: it takes a first CPU sample at once and then one
// every SampleInterval.
func New(c Config) (*Monitor, error) {
	if c.Committed {
		c.Costs = c.Costs.withDefaults(StandaloneCosts)
	} else {
		c.Costs = c.Costs.WithDefaults()
	}
	if c.SampleInterval <= 0 {
		c.SampleInterval = time.Second
	}
	if c.PendingHold <= 0 {
		c.PendingHold = 2 * time.Second
	}
	if c.ProcStat == "" {
		c.ProcStat = "/proc/stat"
	}
	if c.Cores <= 0 {
		c.Cores = float64(runtime.NumCPU())
	}
	if c.Logger == nil {
		c.Logger = logger.GetLogger()
	}
	m := &Monitor{conf: c, log: c.Logger, reg: prometheus.NewRegistry(), sessions: map[*tracked]struct{}{}}
	t, err := readProcStat(c.ProcStat)
	if err != nil {
		return nil, fmt.Errorf("measuring CPU load: %w", err)
	}
	m.prev = t
	m.idle = c.Cores // until the first interval is measured

	node := prometheus.Labels{"node_id": c.NodeID}
	m.cpuLoad = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "livekit", Subsystem: "node", Name: "cpu_load",
		Help:        "Share of the machine's CPU in use (0-1).",
		ConstLabels: prometheus.Labels{"node_id": c.NodeID, "node_type": "INGRESS"},
	})
	available := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "livekit", Subsystem: "ingress", Name: "available",
		Help: "1 when this worker can take a session of the costliest type, else 0.", ConstLabels: node,
	}, func() float64 {
		if m.CanAccept() {
			return 1
		}
		return 0
	})
	m.requests = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "livekit", Subsystem: "ingress", Name: "requests",
		Help: "Sessions running on this worker.", ConstLabels: node,
	}, []string{"type", "transcoding"})
	// As the official worker declares it (stats/media.go): no node
	// label, one series per output track and ingress type.
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "livekit", Subsystem: "ingress", Name: "packet_latency_seconds",
		Help:    "Observed end-to-end packet latency within the ingress pipeline: from a frame's arrival to its release to the room, sampled per output track.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"track", "ingress_type"})
	m.shed = newShedder(c.Shed, m.log, node)
	m.reg.MustRegister(m.cpuLoad, available, m.requests, m.latency, newSessionCollector(m, node), m.shed.shedLayers, m.shed.sheds,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())

	if c.Admission && !c.Committed && c.Cores < c.Costs.max() {
		m.log.Warnw("this machine has fewer cores than the costliest session type: such sessions will be declined", nil,
			"cores", c.Cores, "maxCost", c.Costs.max())
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(1)
	go m.run(ctx)
	return m, nil
}

// Close stops the measurements.
func (m *Monitor) Close() {
	m.cancel()
	m.wg.Wait()
}

// Handler serves the metrics in the Prometheus text format: the
// monitor's own, and those livekit/protocol registers in the default
// registry (livekit_webhook_*, the webhook deliveries of standalone mode).
func (m *Monitor) Handler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{m.reg, protocolMetrics}, promhttp.HandlerOpts{})
}

// protocolMetrics gathers the webhook metric families livekit/protocol
// registers in the default registry, leaving out the process and Go
// collectors (the monitor's own registry has them).
var protocolMetrics = prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
	// Another package's collector failing must not take ours down.
	mfs, _ := prometheus.DefaultGatherer.Gather()
	out := mfs[:0]
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "livekit_webhook_") {
			out = append(out, mf)
		}
	}
	return out, nil
})

// Registry is where the metrics are registered.
func (m *Monitor) Registry() *prometheus.Registry { return m.reg }

func (m *Monitor) run(ctx context.Context) {
	defer m.wg.Done()
	tick := time.NewTicker(m.conf.SampleInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			m.sample(now)
		}
	}
}

func (m *Monitor) sample(now time.Time) {
	t, err := readProcStat(m.conf.ProcStat)
	if err != nil {
		m.log.Debugw("cpu sample", "error", err.Error())
		return
	}
	m.mu.Lock()
	if idle, ok := idleCores(m.prev, t, m.conf.Cores); ok {
		// Half of the newest interval, half of the history: a short burst
		// does not flip admission on its own.
		m.idle = (m.idle + idle) / 2
	}
	m.prev = t
	idle := m.idle
	sessions := make([]*tracked, 0, len(m.sessions))
	for s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.Unlock()
	m.cpuLoad.Set(1 - idle/m.conf.Cores)
	for _, s := range sessions {
		s.sample(now)
		s.observeLatency(m.latency)
	}
	m.shed.step(now, sessions)
}

// IdleCPU returns the measured idle cores.
func (m *Monitor) IdleCPU() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.idle
}

// SetDraining makes the worker decline every new session from now on.
func (m *Monitor) SetDraining() {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
}

// Cost returns the CPU charged for a session.
func (m *Monitor) Cost(input livekit.IngressInput, transcoding bool) float64 {
	c := m.conf.Costs
	if m.conf.Committed && !transcoding {
		// Tributary forwards RTMP, SRT and URL media too: such a session
		// costs what a WHIP one without transcoding does.
		return c.WHIPBypass
	}
	switch input {
	case livekit.IngressInput_RTMP_INPUT:
		return c.RTMP
	case livekit.IngressInput_WHIP_INPUT:
		if !transcoding {
			return c.WHIPBypass
		}
		return c.WHIP
	default:
		return c.URL
	}
}

// availableLocked is idle CPU minus the pending charges and the reserve.
func (m *Monitor) availableLocked(now time.Time, minIdleRatio float64) float64 {
	var pending float64
	keep := m.pending[:0]
	for _, p := range m.pending {
		if now.Before(p.until) {
			pending += p.cost
			keep = append(keep, p)
		}
	}
	m.pending = keep
	return m.idle - pending - minIdleRatio*m.conf.Cores
}

// CanAccept reports whether a session of the costliest type would be
// accepted now (the /availability answer and livekit_ingress_available).
func (m *Monitor) CanAccept() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.draining {
		return false
	}
	if !m.conf.Admission {
		return true
	}
	if m.conf.Committed {
		return m.committedRoomLocked() >= m.conf.Costs.max() && m.shed.layers() == 0
	}
	return m.availableLocked(time.Now(), m.conf.Costs.MinIdleRatio) > m.conf.Costs.max()
}

// committedRoomLocked is, in Committed mode, the cores the admitted
// sessions leave before the idle reserve.
func (m *Monitor) committedRoomLocked() float64 {
	return m.conf.Cores*(1-m.conf.Costs.MinIdleRatio) - m.committed
}

// Reserve is standalone admission (Config.Committed): it charges a
// session's cost until release is called (when the session ends), or
// declines the session with ErrNoCapacity and the numbers. A transcoding
// session is also declined while the overload controller has layers shed:
// the machine already cannot keep up with the sessions it has. Without
// Admission every session is accepted and release does nothing.
func (m *Monitor) Reserve(input livekit.IngressInput, transcoding bool) (release func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.draining {
		return nil, fmt.Errorf("%w: the worker is draining", ErrNoCapacity)
	}
	if !m.conf.Admission {
		return func() {}, nil
	}
	cost := m.Cost(input, transcoding)
	if n := m.shed.layers(); n > 0 && transcoding {
		return nil, fmt.Errorf("%w: the machine is overloaded (video layers shed to keep the running sessions' frame rate: %d)",
			ErrNoCapacity, n)
	}
	// A little slack for the sums of decimal costs (4 × 0.45 is not 1.8).
	if room := m.committedRoomLocked(); room+1e-9 < cost {
		return nil, fmt.Errorf("%w: a %s session costs %.2f cores (cpu_cost) and the running sessions leave %.2f of %g cores after the idle reserve (min_idle_ratio %g)",
			ErrNoCapacity, sessionKind(input, transcoding), cost, max(room, 0), m.conf.Cores, m.conf.Costs.MinIdleRatio)
	}
	m.committed += cost
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			m.committed -= cost
			m.mu.Unlock()
		})
	}, nil
}

// sessionKind names a session in a refusal: "transcoding RTMP", "WHIP
// passthrough".
func sessionKind(input livekit.IngressInput, transcoding bool) string {
	name := strings.ToUpper(inputLabel(input))
	if transcoding {
		return "transcoding " + name
	}
	return name + " passthrough"
}

// CanAcceptIngress reports whether this session would be accepted, without
// reserving anything (the StartIngress affinity).
func (m *Monitor) CanAcceptIngress(input livekit.IngressInput, transcoding bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.draining {
		return false
	}
	if !m.conf.Admission {
		return true
	}
	return m.availableLocked(time.Now(), m.conf.Costs.MinIdleRatio) > m.Cost(input, transcoding)
}

// Admit accepts a session and charges its cost as pending until the CPU
// measurement catches up, or declines it with ErrNoCapacity and the
// numbers. As upstream, the admission itself keeps only half the idle
// reserve: the worker was already chosen.
func (m *Monitor) Admit(input livekit.IngressInput, transcoding bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.draining {
		return fmt.Errorf("%w: the worker is draining", ErrNoCapacity)
	}
	if !m.conf.Admission {
		return nil
	}
	now := time.Now()
	cost := m.Cost(input, transcoding)
	avail := m.availableLocked(now, m.conf.Costs.MinIdleRatio/2)
	if avail <= cost {
		return fmt.Errorf("%w: a %s session costs %.2f cores (cpu_cost) and %.2f are free after the idle reserve",
			ErrNoCapacity, inputLabel(input), cost, max(avail, 0))
	}
	m.pending = append(m.pending, pendingCost{cost: cost, until: now.Add(m.conf.PendingHold)})
	return nil
}

// Track counts a running session in livekit_ingress_requests and, when
// stats is not nil, exports its media counters; call the returned
// function when the session ends.
func (m *Monitor) Track(info *livekit.IngressInfo, resourceID string, stats SessionStats) (untrack func()) {
	labels := prometheus.Labels{"type": inputLabel(info.InputType), "transcoding": strconv.FormatBool(info.GetEnableTranscoding())}
	m.requests.With(labels).Inc()
	var t *tracked
	if stats != nil {
		t = &tracked{labels: []string{info.IngressId, resourceID, inputLabel(info.InputType)}, ingressType: info.InputType.String(), stats: stats}
		m.mu.Lock()
		m.seq++
		t.seq = m.seq
		m.sessions[t] = struct{}{}
		m.mu.Unlock()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			m.requests.With(labels).Dec()
			if t != nil {
				m.mu.Lock()
				delete(m.sessions, t)
				m.mu.Unlock()
				t.observeLatency(m.latency) // the last samples
			}
		})
	}
}

func (m *Monitor) trackedSessions() []*tracked {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*tracked, 0, len(m.sessions))
	for s := range m.sessions {
		out = append(out, s)
	}
	return out
}

// HealthHandler answers GET / (200 while the process serves) and
// /availability (200, or 503 when the worker cannot take a session).
func (m *Monitor) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("Healthy\n"))
	})
	mux.HandleFunc("/availability", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if !m.CanAccept() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("No availability\n"))
			return
		}
		_, _ = w.Write([]byte("Available\n"))
	})
	return mux
}
