package forward

import (
	"sync"
	"time"

	"github.com/livekit/protocol/logger"
	"github.com/pion/rtp"

	"github.com/tributary-ingress/tributary/pipeline"
)

// Lip sync bounds.
const (
	// MaxSyncDelay bounds how long audio is held back to keep the sender's
	// lip sync. A larger offset between the tracks' arrival is not a
	// network's doing but a sender's clock (or a hostile sender's
	// reports): it is logged, and the tracks are then forwarded as they
	// arrive for the rest of the session.
	MaxSyncDelay = 500 * time.Millisecond
	// syncSlew is how fast the audio's delay follows its target, as a
	// fraction of the time passing: 1/20 stretches or squeezes the audio's
	// timing by 5 %, which a viewer's jitter buffer absorbs without a rush
	// or a freeze, and reaches a 150 ms delay in 3 s.
	syncSlew = 20
	// lagBucket and lagBuckets make the window over which each track's
	// lowest arrival lag is taken: the lowest lag is the network's (and
	// the sender's pacing's) floor, without the jitter of bursts.
	lagBucket  = 250 * time.Millisecond
	lagBuckets = 8
	// srTolerance is how far a new sender report may stray from the
	// mapping of the previous one before the track's lags are measured
	// afresh (the sender's clock stepped, or a report lies).
	srTolerance = 50 * time.Millisecond
	// maxHeldPackets and maxHeldBytes bound the audio held; when full, the
	// oldest packet leaves early. 500 ms of Opus (25 packets of 20 ms, at
	// most 1275 bytes each) stays well below.
	maxHeldPackets = 256
	maxHeldBytes   = 256 << 10
)

const (
	syncAudio = iota
	syncVideo
)

// lipSync keeps the sender's lip sync of a forwarded audio and video
// track. The sender's RTCP sender reports map each track's RTP timestamps
// to one NTP clock, which gives each packet its capture time; its arrival
// lag is its arrival time minus its capture time (the two clocks differ,
// by the same amount for both tracks). When the audio's lowest lag is the
// smaller, it arrives early and is held back by the difference, so that
// packets captured together leave together. NegotiatedVideo is never held back:
// its latency and the time to a keyframe on a layer switch stay as they
// are, and audio late against video (when video arrives early) is the
// direction a viewer tolerates best.
//
// Its methods are called by the streams' readers.
type lipSync struct {
	log logger.Logger

	mu     sync.Mutex
	epoch  time.Time
	rates  [2]uint32 // RTP clock rate of each kind
	maps   [2][maxLayers]srMap
	lags   [2]minWindow
	target time.Duration // of the audio's delay
	delay  time.Duration
	last   time.Time // of the last delay update
	gaveUp bool
	logged bool // that a delay is applied
}

// srMap is the last sender report of a stream: its NTP time (as a
// duration since the NTP epoch) for an RTP timestamp.
type srMap struct {
	ok  bool
	ntp time.Duration
	rtp uint32
}

func newLipSync(clock pipeline.Clock, log logger.Logger, audioRate, videoRate uint32) *lipSync {
	now := clock.Now()
	return &lipSync{log: log, epoch: now, last: now, rates: [2]uint32{audioRate, videoRate}}
}

// ntpDuration converts a 64-bit NTP timestamp to a duration since the
// NTP epoch; every value fits.
func ntpDuration(ntp uint64) time.Duration {
	return time.Duration(ntp>>32)*time.Second + time.Duration((ntp&0xffffffff)*uint64(time.Second)>>32)
}

// captured returns the capture time on the sender's NTP clock of an RTP
// timestamp, by m at rate; the timestamp may have wrapped since.
func (m *srMap) captured(ts, rate uint32) time.Duration {
	return m.ntp + time.Duration(int32(ts-m.rtp))*time.Second/time.Duration(rate)
}

// senderReport records a stream's sender report. A report that strays
// from the previous one's mapping restarts the track's lag measurement.
func (s *lipSync) senderReport(video bool, layer int, ntp uint64, rtpTime uint32) {
	kind := syncAudio
	if video {
		kind = syncVideo
	} else {
		layer = 0
	}
	if layer < 0 || layer >= maxLayers {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := s.rates[kind]
	m := &s.maps[kind][layer]
	next := srMap{ok: true, ntp: ntpDuration(ntp), rtp: rtpTime}
	if m.ok {
		if d := next.ntp - m.captured(rtpTime, rate); d > srTolerance || d < -srTolerance {
			s.lags[kind] = minWindow{}
		}
	}
	*m = next
}

// video records the arrival of a video layer's packet now.
func (s *lipSync) video(layer int, p *rtp.Packet, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrived(syncVideo, layer, p, now)
}

// audio records the arrival of an audio packet now and returns how long
// to hold it back.
func (s *lipSync) audio(p *rtp.Packet, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrived(syncAudio, 0, p, now)
	s.slew(now)
	return s.delay
}

// arrived records a packet's arrival lag, once its stream has a sender
// report, and sets the audio's target delay from it.
func (s *lipSync) arrived(kind, layer int, p *rtp.Packet, now time.Time) {
	m := &s.maps[kind][layer]
	if !m.ok || s.gaveUp {
		return
	}
	s.lags[kind].add(now, now.Sub(s.epoch)-m.captured(p.Timestamp, s.rates[kind]))
	a, aok := s.lags[syncAudio].min(now)
	v, vok := s.lags[syncVideo].min(now)
	if !aok || !vok {
		return
	}
	early := v - a // how much earlier audio arrives than video
	if early > MaxSyncDelay || early < -MaxSyncDelay {
		s.gaveUp = true
		s.target = 0
		s.log.Infow("the tracks' arrival is too far apart for their sender reports: forwarding them as they arrive",
			"audioLeadsBy", early, "bound", MaxSyncDelay)
		return
	}
	s.target = max(early, 0)
	if !s.logged && early > 0 {
		s.logged = true
		s.log.Infow("holding back the audio, which arrives early, to keep the sender's lip sync", "audioLeadsBy", early)
	}
}

// slew moves the audio's delay towards its target by at most 1/syncSlew
// of the time since the last move.
func (s *lipSync) slew(now time.Time) {
	step := now.Sub(s.last) / syncSlew
	if step <= 0 {
		return
	}
	s.last = now
	if s.delay < s.target {
		s.delay = min(s.delay+step, s.target)
	} else {
		s.delay = max(s.delay-step, s.target)
	}
}

// minWindow is the lowest of the values added in the last lagBuckets
// buckets of lagBucket.
type minWindow struct {
	start time.Time // of the current bucket
	cur   int
	mins  [lagBuckets]time.Duration
	set   [lagBuckets]bool
}

func (w *minWindow) advance(now time.Time) {
	if w.start.IsZero() {
		w.start = now
		return
	}
	for n := 0; now.Sub(w.start) >= lagBucket; n++ {
		if n == lagBuckets {
			// Idle for a whole window: start afresh.
			*w = minWindow{start: now}
			return
		}
		w.start = w.start.Add(lagBucket)
		w.cur = (w.cur + 1) % lagBuckets
		w.set[w.cur] = false
	}
}

func (w *minWindow) add(now time.Time, v time.Duration) {
	w.advance(now)
	if !w.set[w.cur] || v < w.mins[w.cur] {
		w.mins[w.cur], w.set[w.cur] = v, true
	}
}

func (w *minWindow) min(now time.Time) (time.Duration, bool) {
	w.advance(now)
	var m time.Duration
	ok := false
	for i, set := range w.set {
		if set && (!ok || w.mins[i] < m) {
			m, ok = w.mins[i], true
		}
	}
	return m, ok
}

// holdQueue holds back audio packets until their time to leave; its one
// goroutine (while it holds any) writes them then, in order.
type holdQueue struct {
	f *Forwarder

	mu      sync.Mutex
	held    []heldPacket
	bytes   int
	last    time.Time // when the last packet held leaves
	running bool
	due     time.Time // that the goroutine waits for, zero when not waiting
}

type heldPacket struct {
	p  *rtp.Packet
	at time.Time
}

// write forwards p now when nothing is held and delay is 0, else holds
// it for delay after now (and after the packets held before it).
func (q *holdQueue) write(p *rtp.Packet, now time.Time, delay time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.held) == 0 && delay <= 0 {
		q.f.forwardAudio(p)
		return
	}
	for len(q.held) >= maxHeldPackets || (len(q.held) > 0 && q.bytes+len(p.Payload) > maxHeldBytes) {
		q.pop()
	}
	at := now.Add(delay)
	if at.Before(q.last) {
		at = q.last
	}
	q.last = at
	q.held = append(q.held, heldPacket{p: p, at: at})
	q.bytes += len(p.Payload)
	if !q.running {
		q.running = true
		go q.run()
	}
}

// pop writes the oldest packet held.
func (q *holdQueue) pop() {
	h := q.held[0]
	q.held[0] = heldPacket{}
	q.held = q.held[1:]
	q.bytes -= len(h.p.Payload)
	q.f.forwardAudio(h.p)
}

// run writes the packets held as they become due, until none is left or
// the session ends.
func (q *holdQueue) run() {
	f := q.f
	clock := f.s.Clock()
	for {
		q.mu.Lock()
		q.due = time.Time{}
		now := clock.Now()
		for len(q.held) > 0 && !q.held[0].at.After(now) {
			q.pop()
		}
		if len(q.held) == 0 {
			q.running = false
			q.held = nil
			q.mu.Unlock()
			return
		}
		// The timer is set with the lock held, so that tests with a fake
		// clock can tell when it waits.
		wait := q.held[0].at.Sub(now)
		due := clock.After(wait)
		q.due = clock.Now().Add(wait) // not before the timer fires
		q.mu.Unlock()
		select {
		case <-due:
		case <-f.s.Done():
			q.mu.Lock()
			q.running = false
			q.held, q.bytes = nil, 0
			q.mu.Unlock()
			return
		}
	}
}
