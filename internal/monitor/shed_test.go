package monitor

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

// TestStandaloneAdmission: the costs of the admitted sessions must fit
// in the cores less the idle reserve; with the standalone defaults a
// 2-core machine takes four transcodes and refuses the fifth, with the
// numbers, whatever the machine's measured idle CPU.
func TestStandaloneAdmission(t *testing.T) {
	m := newTestMonitor(t, Config{Admission: true, Committed: true, Cores: 2, NodeID: "n1"})
	m.mu.Lock()
	m.idle = 0 // other programs load the machine: standalone admission does not measure them
	m.mu.Unlock()
	require.Equal(t, StandaloneCosts, m.conf.Costs)

	var releases []func()
	for i := range 4 {
		release, err := m.Reserve(livekit.IngressInput_RTMP_INPUT, true)
		require.NoError(t, err, "transcode %d", i+1)
		releases = append(releases, release)
	}
	require.False(t, m.CanAccept(), "no room for a fifth transcode")
	_, err := m.Reserve(livekit.IngressInput_URL_INPUT, true)
	require.ErrorIs(t, err, ErrNoCapacity)
	require.Contains(t, err.Error(), "a transcoding URL session costs 0.40 cores (cpu_cost) and the running sessions leave 0.20 of 2 cores after the idle reserve (min_idle_ratio 0.1)")

	// Passthrough sessions cost little, whatever their input.
	for i := range 4 {
		release, err := m.Reserve(livekit.IngressInput_RTMP_INPUT, false)
		require.NoError(t, err, "passthrough %d", i+1)
		releases = append(releases, release)
	}
	_, err = m.Reserve(livekit.IngressInput_WHIP_INPUT, false)
	require.ErrorContains(t, err, "a WHIP passthrough session costs 0.05 cores")

	// An ended session frees its share, once however often it is released.
	releases[0]()
	releases[0]()
	release, err := m.Reserve(livekit.IngressInput_WHIP_INPUT, true)
	require.NoError(t, err)
	_, err = m.Reserve(livekit.IngressInput_WHIP_INPUT, true)
	require.ErrorIs(t, err, ErrNoCapacity, "the first release freed one share only")
	release()
	for _, r := range releases {
		r()
	}
	m.mu.Lock()
	require.InDelta(t, 0, m.committed, 1e-9)
	m.mu.Unlock()

	// Sixteen passthrough sessions (the load benchmark) fit on one core.
	one := newTestMonitor(t, Config{Admission: true, Committed: true, Cores: 1})
	for i := range 16 {
		_, err := one.Reserve(livekit.IngressInput_RTMP_INPUT, false)
		require.NoError(t, err, "passthrough %d", i+1)
	}
}

func TestStandaloneAdmissionOff(t *testing.T) {
	m := newTestMonitor(t, Config{Committed: true, Cores: 1})
	for range 10 {
		release, err := m.Reserve(livekit.IngressInput_RTMP_INPUT, true)
		require.NoError(t, err)
		release()
	}
}

// fakeSession is a session's counters as the overload controller sees
// them.
type fakeSession struct {
	fakeStats
	layers  int
	dropped atomic.Int64
	late    atomic.Int64
	shed    atomic.Int64
}

func (f *fakeSession) DroppedFrames() int64 { return f.dropped.Load() }
func (f *fakeSession) LatePictures() int64  { return f.late.Load() }
func (f *fakeSession) SheddableLayers() int { return f.layers }
func (f *fakeSession) ShedLayers(n int)     { f.shed.Store(int64(n)) }

// shedRig runs the controller on a fake clock: each tick is one sample.
type shedRig struct {
	t        *testing.T
	m        *Monitor
	now      time.Time
	sessions []*fakeSession
}

func newShedRig(t *testing.T, sessions int) *shedRig {
	r := &shedRig{t: t, m: newTestMonitor(t, Config{Cores: 2, NodeID: "n1"}), now: time.Unix(1000, 0)}
	for i := range sessions {
		r.add(fmt.Sprintf("IN_%d", i))
	}
	return r
}

func (r *shedRig) add(id string) *fakeSession {
	on := true
	s := &fakeSession{layers: 2} // three transcoded layers
	r.m.Track(&livekit.IngressInfo{IngressId: id, InputType: livekit.IngressInput_RTMP_INPUT, EnableTranscoding: &on}, "RT_"+id, s)
	r.sessions = append(r.sessions, s)
	return s
}

// tick advances the clock by a second, with each session dropping drops
// frames in it.
func (r *shedRig) tick(drops int64) {
	for _, s := range r.sessions {
		s.dropped.Add(drops)
	}
	r.now = r.now.Add(time.Second)
	r.m.shed.step(r.now, r.m.trackedSessions())
}

func (r *shedRig) shed() []int64 {
	out := make([]int64, len(r.sessions))
	for i, s := range r.sessions {
		out[i] = s.shed.Load()
	}
	return out
}

// TestShedNewestTopLayerFirst: while the sessions drop frames, one layer
// more is shed every few seconds: the top layer of the newest session,
// then of the next newest, then the next layers, never a lowest one.
func TestShedNewestTopLayerFirst(t *testing.T) {
	r := newShedRig(t, 3)
	r.tick(0) // the first sample only learns the counters
	r.tick(2)
	r.tick(2)
	require.Equal(t, []int64{0, 0, 0}, r.shed(), "2 dropped frames per session and second make a late sample, but three in a row are needed")
	r.tick(2)
	require.Equal(t, []int64{0, 0, 1}, r.shed(), "the newest session's top layer goes first")
	r.tick(2)
	r.tick(2)
	require.Equal(t, []int64{0, 0, 1}, r.shed(), "the queues get 3 s to drain after a shed")
	r.tick(2)
	require.Equal(t, []int64{0, 1, 1}, r.shed())
	for range 3 {
		r.tick(2)
	}
	require.Equal(t, []int64{1, 1, 1}, r.shed(), "then the oldest session's top layer")
	for range 3 {
		r.tick(2)
	}
	require.Equal(t, []int64{1, 1, 2}, r.shed(), "then the next layer, newest first")
	for range 30 {
		r.tick(2)
	}
	require.Equal(t, []int64{2, 2, 2}, r.shed(), "every session keeps its lowest layer")
	require.Equal(t, 6, r.m.shed.layers())

	out := scrape(t, r.m)
	require.Contains(t, out, `livekit_ingress_shed_video_layers{node_id="n1",reason="frames_dropped"} 6`)
	require.Contains(t, out, `livekit_ingress_video_layer_sheds_total{node_id="n1",reason="frames_dropped"} 6`)
}

// TestShedNotForOneSession: a session that alone drops frames — a
// publisher bursting faster than real time — sheds nobody's layers, its
// own included: only the machine falling behind (sessions late
// together) does.
func TestShedNotForOneSession(t *testing.T) {
	r := newShedRig(t, 3)
	r.tick(0)
	for range 20 {
		r.sessions[2].dropped.Add(50)
		r.tick(0)
	}
	require.Equal(t, []int64{0, 0, 0}, r.shed(), "one session's drops")
	for range 4 {
		r.sessions[0].dropped.Add(5)
		r.sessions[1].late.Add(5)
		r.tick(0)
	}
	require.Equal(t, []int64{0, 0, 1}, r.shed(), "two sessions behind together: the machine")
}

// TestShedOldestAloneBehind: once the machine was found overloaded and
// the newest sessions shed, they keep up; the oldest may still be
// behind, alone, and that sheds the next layer when it lasts 9 s (three
// times the 3 s that shed when sessions are behind together).
func TestShedOldestAloneBehind(t *testing.T) {
	r := newShedRig(t, 3)
	r.tick(0)
	for range 3 {
		r.tick(2)
	}
	require.Equal(t, []int64{0, 0, 1}, r.shed())
	for range 3 {
		r.tick(2)
	}
	require.Equal(t, []int64{0, 1, 1}, r.shed())
	// The two newest keep up now; after a calm second the oldest drops
	// frames alone for 8 s (as long as a publisher's burst may last):
	// nothing more is shed.
	r.tick(0)
	for range 8 {
		r.sessions[0].dropped.Add(4)
		r.tick(0)
	}
	require.Equal(t, []int64{0, 1, 1}, r.shed(), "one session alone behind for 8 s")
	r.sessions[0].dropped.Add(4)
	r.tick(0)
	require.Equal(t, []int64{1, 1, 1}, r.shed(), "the oldest alone behind for 9 s while layers are shed: the machine still cannot keep up")
	// Calm, then every layer back, one at a time: with nothing shed, one
	// session alone behind is again its own doing.
	for range 120 {
		r.tick(0)
	}
	require.Equal(t, []int64{0, 0, 0}, r.shed())
	for range 20 {
		r.sessions[0].dropped.Add(50)
		r.tick(0)
	}
	require.Equal(t, []int64{0, 0, 0}, r.shed(), "nothing shed: one session's drops are its own")
}

// TestShedRestore: layers come back one at a time after 20 s without a
// late sample; a shed soon after a resume doubles that wait.
func TestShedRestore(t *testing.T) {
	r := newShedRig(t, 2)
	r.tick(0)
	for range 6 {
		r.tick(5)
	}
	require.Equal(t, []int64{1, 1}, r.shed())
	for range 19 {
		r.tick(0)
	}
	require.Equal(t, []int64{1, 1}, r.shed(), "not before 20 s without a dropped frame")
	r.tick(0)
	require.Equal(t, []int64{0, 1}, r.shed(), "the oldest session gets its layer back first")

	// The machine falls behind again at once: shed again, and the next
	// resume waits 40 s.
	for range 3 {
		r.tick(5)
	}
	require.Equal(t, []int64{1, 1}, r.shed())
	for range 39 {
		r.tick(0)
	}
	require.Equal(t, []int64{1, 1}, r.shed(), "the wait doubled: 40 s")
	r.tick(0)
	require.Equal(t, []int64{0, 1}, r.shed())
	for range 40 {
		r.tick(0)
	}
	require.Equal(t, []int64{0, 0}, r.shed())
	require.Equal(t, 0, r.m.shed.layers())

	// Pictures skipped as too late count as dropped ones: a decoder
	// behind its source skips them before any queue overflows.
	for range 3 {
		for _, s := range r.sessions {
			s.late.Add(4)
		}
		r.tick(0)
	}
	require.Equal(t, []int64{0, 1}, r.shed())
	for range 79 {
		r.tick(0)
	}
	require.Equal(t, []int64{0, 1}, r.shed(), "shed again 20 s after a resume: the wait doubled again, to 80 s")
	r.tick(0)
	require.Equal(t, []int64{0, 0}, r.shed())

	// Frames dropped now and then (a source's burst) shed nothing.
	for i := range 60 {
		r.tick(int64(i % 2 * 5))
	}
	require.Equal(t, []int64{0, 0}, r.shed())
}

// TestShedSessionsComeAndGo: a lone session is never shed; a session that
// ends takes its shed layers with it rather than passing them on; admission
// refuses transcodes while layers are shed.
func TestShedSessionsComeAndGo(t *testing.T) {
	lone := newShedRig(t, 1)
	lone.tick(0)
	for range 10 {
		lone.tick(10)
	}
	require.Equal(t, []int64{0}, lone.shed(), "a lone session has no older one to give its CPU to")

	r := newShedRig(t, 2)
	r.tick(0)
	on := true
	newest := &fakeSession{layers: 2}
	untrack := r.m.Track(&livekit.IngressInfo{IngressId: "IN_new", InputType: livekit.IngressInput_URL_INPUT, EnableTranscoding: &on}, "UR_new", newest)
	r.sessions = append(r.sessions, newest)
	for range 4 {
		r.tick(10)
	}
	require.Equal(t, []int64{0, 0, 1}, r.shed(), "the newest session's top layer goes first")

	r.m.conf.Admission, r.m.conf.Committed = true, true
	_, err := r.m.Reserve(livekit.IngressInput_RTMP_INPUT, true)
	require.ErrorIs(t, err, ErrNoCapacity)
	require.ErrorContains(t, err, "the machine is overloaded (video layers shed to keep the running sessions' frame rate: 1)")
	_, err = r.m.Reserve(livekit.IngressInput_RTMP_INPUT, false)
	require.NoError(t, err, "a passthrough session costs next to nothing")

	untrack()
	r.sessions = r.sessions[:2]
	r.tick(0)
	require.Equal(t, []int64{0, 0}, r.shed(), "the older sessions do not inherit the ended one's shed layer")
	require.Equal(t, 0, r.m.shed.layers())
}
