package monitor

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/prometheus/client_golang/prometheus"
)

// Sheddable is what the SessionStats of a session may also implement so
// that the overload controller can pause its top video layers
// (pipeline.Stats does).
type Sheddable interface {
	// SheddableLayers returns how many of the session's top video layers
	// may be paused: its transcoded layers but the lowest, 0 when it
	// forwards the source (a forwarded layer's pictures come only from
	// the source, and pausing it saves nothing).
	SheddableLayers() int
	// ShedLayers asks the session to pause its n top layers and resume
	// the others (0 resumes them all).
	ShedLayers(n int)
	// LatePictures returns how many decoded pictures the session skipped
	// as too old to encode: its transcoder is behind, even when no queue
	// overflowed (yet).
	LatePictures() int64
}

// ShedConfig configures the overload controller. Zero values take the
// defaults.
type ShedConfig struct {
	// Disabled turns the controller off.
	Disabled bool
	// LateDrops is how many frames dropped or pictures skipped as too
	// late by all sessions together in one sample make the sample late
	// (default 3). A session drops frames only when a queue is full, and
	// skips pictures only when they leave the decoder too late to be
	// worth encoding, that is when its decoder or an encoder is behind:
	// on a machine that keeps up, next to none are.
	LateDrops int64
	// LateSamples is how many late samples in a row shed a layer
	// (default 3): a source's burst or a short stall of the machine
	// does not.
	LateSamples int
	// Every is the least time between two sheds (default 3 s): the
	// queues need a moment to drain after one.
	Every time.Duration
	// RestoreAfter is how long without a late sample resumes one shed
	// layer (default 20 s). Each time a shed follows a resume within
	// that time, it doubles, up to MaxRestoreAfter (default 5 min), so
	// that a machine at its limit does not flap; it returns to the
	// default after MaxRestoreAfter without a shed.
	RestoreAfter, MaxRestoreAfter time.Duration
	// MinSessions is how many sessions with sheddable layers must run
	// for the controller to act (default 2). Shedding moves CPU from the
	// newest sessions to the older ones; a lone session has none to give
	// it to, and on a machine loaded by other programs its dropped
	// frames say little about its own cost.
	MinSessions int
}

func (c ShedConfig) withDefaults() ShedConfig {
	if c.LateDrops <= 0 {
		c.LateDrops = 3
	}
	if c.LateSamples <= 0 {
		c.LateSamples = 3
	}
	if c.Every <= 0 {
		c.Every = 3 * time.Second
	}
	if c.RestoreAfter <= 0 {
		c.RestoreAfter = 20 * time.Second
	}
	if c.MaxRestoreAfter < c.RestoreAfter {
		c.MaxRestoreAfter = max(5*time.Minute, c.RestoreAfter)
	}
	if c.MinSessions <= 0 {
		c.MinSessions = 2
	}
	return c
}

// loneFactor multiplies LateSamples for a sample in which one session
// alone is behind (see step).
const loneFactor = 3

// shedReason is the reason label of the shed metrics, and the reason
// logged: frames dropped (or pictures skipped as too late) because the
// machine could not keep up.
const shedReason = "frames_dropped"

// shedder is the overload controller. Every sample it sums the frames
// the sessions dropped and the pictures they skipped as too late; when the machine stays behind it pauses (sheds)
// one more top video layer, and when it has kept up for a while it
// resumes one. Layers are shed top first, newest session first: the top
// layers of every session from the newest to the oldest, then the next
// ones, never a session's lowest layer. LiveKit moves the viewers of a
// shed layer to the next one, as when dynacast pauses a layer nobody
// watches; the older sessions keep their full frame rate.
type shedder struct {
	conf ShedConfig
	log  logger.Logger

	shedLayers prometheus.Gauge
	sheds      prometheus.Counter

	mu           sync.Mutex
	drops        map[*tracked]int64 // last sample's counters (dropped + late)
	assigned     map[*tracked]int   // layers shed per session
	total        int
	lateRun      int
	calmSince    time.Time // the last late sample
	changed      time.Time // the last shed or resume
	resumed      time.Time // the last resume
	lastShed     time.Time
	restoreAfter time.Duration
}

func newShedder(c ShedConfig, log logger.Logger, node prometheus.Labels) *shedder {
	c = c.withDefaults()
	labels := prometheus.Labels{"reason": shedReason}
	for k, v := range node {
		labels[k] = v
	}
	return &shedder{
		conf: c, log: log,
		drops: map[*tracked]int64{}, assigned: map[*tracked]int{},
		restoreAfter: c.RestoreAfter,
		shedLayers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "livekit", Subsystem: "ingress", Name: "shed_video_layers",
			Help:        "Video layers of running sessions paused because the machine could not keep up with them (the top layers of the newest sessions).",
			ConstLabels: labels,
		}),
		sheds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "livekit", Subsystem: "ingress", Name: "video_layer_sheds_total",
			Help:        "Times a video layer was paused because the machine could not keep up.",
			ConstLabels: labels,
		}),
	}
}

// layers returns how many layers are shed now.
func (s *shedder) layers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// step takes one sample of the running sessions at now.
func (s *shedder) step(now time.Time, sessions []*tracked) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dropped int64
	behind := 0 // sessions that dropped or skipped a frame in this sample
	drops := make(map[*tracked]int64, len(sessions))
	var cands []*tracked
	capacity := 0
	for _, t := range sessions {
		d := t.stats.DroppedFrames()
		sh, sheddable := t.stats.(Sheddable)
		if sheddable {
			d += sh.LatePictures()
		}
		if prev, ok := s.drops[t]; ok && d > prev {
			dropped += d - prev
			behind++
		}
		drops[t] = d
		if sheddable {
			if n := sh.SheddableLayers(); n > 0 {
				cands = append(cands, t)
				capacity += n
			}
		}
	}
	s.drops = drops
	if s.conf.Disabled {
		return
	}

	total := 0
	for _, t := range cands {
		total += s.assigned[t]
	}
	// A machine that cannot keep up makes every transcoding session late;
	// one session alone behind is its own source's doing (a publisher
	// bursting faster than real time, a picture size it cannot decode in
	// time) and must not cost the other sessions their top layers. Once
	// layers are shed, though, the machine was found overloaded, and the
	// sheds relieve the newest sessions first: the oldest may then be the
	// only one still behind. It counts when it stays behind alone for
	// loneFactor times as many samples in a row (9 s by default), longer
	// than a publisher's burst lasts.
	late := dropped >= s.conf.LateDrops && (behind >= 2 || total > 0 && behind == 1)
	need := s.conf.LateSamples
	if behind < 2 {
		need *= loneFactor
	}
	if late {
		s.lateRun++
		s.calmSince = now
	} else {
		s.lateRun = 0
	}
	switch {
	case len(cands) < s.conf.MinSessions:
		total = 0
	case late && s.lateRun >= need && total < capacity && now.Sub(s.changed) >= s.conf.Every:
		total++
		if !s.resumed.IsZero() && now.Sub(s.resumed) < s.restoreAfter {
			s.restoreAfter = min(2*s.restoreAfter, s.conf.MaxRestoreAfter)
		}
		s.changed, s.lastShed = now, now
		s.sheds.Inc()
		s.log.Infow("overload: shedding a video layer: the sessions drop frames or skip them as late, the machine cannot keep up",
			"reason", shedReason, "droppedLastSample", dropped, "lateSamples", s.lateRun, "shedLayers", total, "sheddable", capacity)
	case !late && total > 0 && now.Sub(s.calmSince) >= s.restoreAfter && now.Sub(s.changed) >= s.restoreAfter:
		total--
		s.changed, s.resumed = now, now
		s.log.Infow("overload: resuming a shed video layer: no frames dropped for a while",
			"calmFor", now.Sub(s.calmSince).Round(time.Second), "shedLayers", total, "nextResumeAfter", s.restoreAfter)
	}
	if now.Sub(s.lastShed) >= s.conf.MaxRestoreAfter {
		s.restoreAfter = s.conf.RestoreAfter
	}
	s.total = min(total, capacity)
	s.shedLayers.Set(float64(s.total))
	s.apply(sessions, s.distribute(cands, s.total))
}

// distribute assigns n shed layers: level by level from the top, and
// within a level from the newest session to the oldest.
func (s *shedder) distribute(cands []*tracked, n int) map[*tracked]int {
	order := slices.Clone(cands)
	slices.SortFunc(order, func(a, b *tracked) int { return cmp.Compare(b.seq, a.seq) })
	out := make(map[*tracked]int, len(order))
	for level := 1; n > 0; level++ {
		for _, t := range order {
			if n > 0 && t.stats.(Sheddable).SheddableLayers() >= level {
				out[t]++
				n--
			}
		}
	}
	return out
}

// apply tells each session how many layers it sheds, when that changed.
func (s *shedder) apply(sessions []*tracked, want map[*tracked]int) {
	assigned := make(map[*tracked]int, len(want))
	for _, t := range sessions {
		sh, ok := t.stats.(Sheddable)
		if !ok {
			continue
		}
		n := want[t]
		if n != s.assigned[t] {
			sh.ShedLayers(n)
			s.log.Infow("overload: video layers shed for a session", "ingressID", t.labels[0], "resourceID", t.labels[1],
				"shedLayers", n, "was", s.assigned[t], "reason", shedReason)
		}
		if n > 0 {
			assigned[t] = n
		}
	}
	s.assigned = assigned
}
