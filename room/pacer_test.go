package room

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a manual clock: Sleep advances it.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func TestPacer(t *testing.T) {
	ms := time.Millisecond
	type step struct {
		advance time.Duration // wall time passing before the frame arrives
		pts     time.Duration
		late    time.Duration // expected lateness
		wall    time.Duration // expected wall time (since start) when released
	}
	cases := []struct {
		name   string
		delay  time.Duration
		lead   time.Duration
		steps  []step
		resets int
	}{
		{"file played in real time", 0, 0, []step{
			{0, 0, 0, 0}, {0, 33 * ms, 0, 33 * ms}, {0, 66 * ms, 0, 66 * ms}, {0, 100 * ms, 0, 100 * ms},
		}, 0},
		{"live source on time", 0, 0, []step{
			{0, 0, 0, 0}, {33 * ms, 33 * ms, 0, 33 * ms}, {33 * ms, 66 * ms, 0, 66 * ms},
		}, 0},
		{"short stall catches up without waiting", 0, 0, []step{
			{0, 0, 0, 0}, {300 * ms, 33 * ms, 267 * ms, 300 * ms}, {0, 66 * ms, 234 * ms, 300 * ms}, {0, 300 * ms, 0, 300 * ms},
		}, 0},
		{"long stall resets the origin", 0, 0, []step{
			{0, 0, 0, 0}, {2 * time.Second, 33 * ms, 1967 * ms, 2 * time.Second}, {0, 66 * ms, 0, 2033 * ms},
		}, 1},
		{"timestamp jump resets", 0, 0, []step{
			{0, 0, 0, 0}, {0, time.Hour, 0, 0}, {0, time.Hour + 40*ms, 0, 40 * ms},
		}, 1},
		{"delay holds every frame", 100 * ms, 0, []step{
			{0, 0, 0, 100 * ms}, {0, 33 * ms, 0, 133 * ms}, {100 * ms, 66 * ms, 67 * ms, 233 * ms},
		}, 0},
		{"a fast live clock is re-anchored", 100 * ms, time.Second, []step{
			{0, 0, 0, 100 * ms}, {0, 3 * time.Second, 0, 200 * ms}, {0, 3*time.Second + 33*ms, 0, 233 * ms},
		}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clk := &fakeClock{t: start}
			p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: c.delay, MaxLead: c.lead}
			for i, s := range c.steps {
				clk.t = clk.t.Add(s.advance)
				late, err := p.Wait(context.Background(), s.pts)
				require.NoError(t, err)
				require.Equal(t, s.late, late, "step %d lateness", i)
				require.Equal(t, s.wall, clk.t.Sub(start), "step %d release time", i)
			}
			require.Equal(t, c.resets, p.Resets())
		})
	}
}

func TestPacerCancel(t *testing.T) {
	p := &Pacer{}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := p.Wait(ctx, 0)
	require.NoError(t, err)
	cancel()
	_, err = p.Wait(ctx, time.Hour-time.Second) // a jump re-anchors the origin: due at once
	require.NoError(t, err)
	_, err = p.Wait(ctx, time.Hour)
	require.ErrorIs(t, err, context.Canceled)
}

// TestPacerWaitArrived: a late first frame (held up by the handshake) does
// not add its delay to every later frame: the origin follows the earliest
// arrival.
func TestPacerWaitArrived(t *testing.T) {
	ms := time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: 20 * ms}
	// The first frame arrived 80 ms late and anchors the clock.
	p.Start(start.Add(80*ms), 0)
	clk.t = start.Add(80 * ms)
	_, err := p.WaitArrived(context.Background(), 0, 0, start.Add(80*ms))
	require.NoError(t, err)
	require.Equal(t, 100*ms, clk.t.Sub(start))
	// The next frames arrive on the source's schedule: they leave 20 ms after.
	for i := 1; i <= 3; i++ {
		arrived := start.Add(time.Duration(i) * 33 * ms)
		if clk.t.Before(arrived) {
			clk.t = arrived
		}
		_, err := p.WaitArrived(context.Background(), 0, time.Duration(i)*33*ms, arrived)
		require.NoError(t, err)
	}
	require.Equal(t, 3*33*ms+20*ms, clk.t.Sub(start))
}

// TestPacerLiveLateWriter: one session, two writers sharing the pacer (a
// video layer whose frames come out of a backlog, a second second late,
// and another layer on time). The late writer's frames leave at once and
// the prompt writer's frames keep leaving Delay after their arrival: a
// late writer must not move the origin (it once did, and every writer
// then waited the whole Delay per frame: 4 fps, latency growing).
func TestPacerLiveLateWriter(t *testing.T) {
	ms := time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: 250 * ms}
	p.Start(start, 0)
	for i := 1; i <= 300; i++ {
		pts := time.Duration(i) * 33 * ms
		arrived := start.Add(pts)
		if clk.t.Before(arrived) {
			clk.t = arrived
		}
		// The backlog: a frame of the same timeline 1.5 s older.
		if i > 45 {
			old := pts - 1500*ms
			late, err := p.WaitArrived(context.Background(), 0, old, start.Add(old))
			require.NoError(t, err)
			require.Equal(t, clk.t.Sub(start.Add(old+250*ms)), late, "frame %d of the late writer", i)
		}
		before := clk.t
		late, err := p.WaitArrived(context.Background(), 0, pts, arrived)
		require.NoError(t, err)
		require.Zero(t, late)
		require.Equal(t, arrived.Add(250*ms), clk.t, "frame %d of the prompt writer leaves Delay after its arrival", i)
		clk.t = before // the writers run side by side: only this one waited
	}
	require.Zero(t, p.Resets())
}

// TestPacerLiveDrift: a live source whose clock runs 1 % slow against the
// wall clock (its frames arrive a little later each time). The origin
// follows within the window, so frames keep leaving about Delay after they
// arrive instead of all at once.
func TestPacerLiveDrift(t *testing.T) {
	ms := time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: 100 * ms}
	for i := range 30 * 60 { // a minute at 30 fps
		pts := time.Duration(i) * 33 * ms
		arrived := start.Add(pts + pts/100)
		clk.t = arrived
		_, err := p.WaitArrived(context.Background(), 0, pts, arrived)
		require.NoError(t, err)
		held := clk.t.Sub(arrived)
		if i > 30*10 {
			require.InDelta(t, float64(100*ms), float64(held), float64(60*ms), "frame %d held %v", i, held)
		}
	}
}

// TestPacerLiveJump: a source whose timeline jumps (a new stream on the
// same connection) starts a new window at once; frames of the old
// timeline still queued are released without waiting.
func TestPacerLiveJump(t *testing.T) {
	ms := time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: 100 * ms}
	for i := range 100 {
		pts := time.Hour + time.Duration(i)*33*ms
		clk.t = start.Add(time.Duration(i) * 33 * ms)
		_, err := p.WaitArrived(context.Background(), 0, pts, clk.t)
		require.NoError(t, err)
	}
	// The timeline restarts at 0.
	arrived := clk.t.Add(33 * ms)
	clk.t = arrived
	_, err := p.WaitArrived(context.Background(), 0, 0, arrived)
	require.NoError(t, err)
	require.Equal(t, arrived.Add(100*ms), clk.t, "the new timeline is paced at once")
	require.Equal(t, 1, p.Resets())
	// A frame of the old timeline, queued in another writer: released now.
	before := clk.t
	_, err = p.WaitArrived(context.Background(), 0, time.Hour+100*33*ms, arrived.Add(-10*ms))
	require.NoError(t, err)
	require.Equal(t, before, clk.t)
}

// TestPacerLiveSkew: a source whose audio arrives 300 ms after the video
// of the same instant (an MPEG-TS muxer holding audio). Both tracks leave
// on the later track's schedule, so a frame and the sound of the same
// instant leave together (RTCP sender reports map RTP time to the time
// of sending, so a track sent late plays late).
func TestPacerLiveSkew(t *testing.T) {
	ms := time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: 100 * ms}
	released := map[int]map[time.Duration]time.Time{0: {}, 1: {}}
	for i := range 300 {
		pts := time.Duration(i) * 20 * ms
		for track, skew := range []time.Duration{0, 300 * ms} {
			arrived := start.Add(pts + skew)
			clk.t = arrived
			_, err := p.WaitArrived(context.Background(), track, pts, arrived)
			require.NoError(t, err)
			released[track][pts] = clk.t
		}
	}
	for pts := 2 * time.Second; pts < 6*time.Second; pts += 20 * ms {
		v, a := released[0][pts], released[1][pts]
		require.Equal(t, v, a, "video and audio of %v leave together", pts)
		require.Equal(t, start.Add(pts+400*ms), v, "300 ms skew + 100 ms delay")
	}
}

// TestPacerLiveAudioBursts: audio that an MPEG-TS muxer packs 360 ms to a
// PES packet arrives in bursts of 18 frames. Once the pacer has seen a
// burst, every frame leaves 20 ms after the one before, Delay after the
// burst that carried it would have let the first frame leave: no burst
// reaches the room.
func TestPacerLiveAudioBursts(t *testing.T) {
	ms := time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: 250 * ms}
	var released []time.Time
	for i := range 600 {
		pts := time.Duration(i) * 20 * ms
		// The burst leaves the muxer once its last frame is made.
		arrived := start.Add(time.Duration(i/18+1) * 360 * ms)
		clk.t = maxTime(clk.t, arrived)
		_, err := p.WaitArrived(context.Background(), 1, pts, arrived)
		require.NoError(t, err)
		released = append(released, clk.t)
	}
	// Learning the 340 ms of jitter (from the second complete slot, 1.5 s)
	// never pauses the pace: 20 ms between frames, or up to 8 % more.
	for i := 100; i < len(released); i++ {
		d := released[i].Sub(released[i-1])
		require.True(t, d == 0 || (d >= 20*ms && d <= 22*ms), "frame %d leaves %v after the one before", i, d)
	}
	// Learnt (by 6 s): every frame 20 ms after the one before.
	for i := 300; i < len(released); i++ {
		require.Equal(t, 20*ms, released[i].Sub(released[i-1]), "frame %d leaves 20 ms after the one before", i)
	}
	// The first frame of a burst waited Delay after its arrival.
	require.Equal(t, 250*ms, released[18*30].Sub(start.Add(31*360*ms)))
}

// TestPacerLiveAudioStall: a steady audio source that stalls once for
// 1.5 s. The stall's catch-up leaves at once, and the steady frames after
// it keep their delay: one stall is not taken for jitter.
func TestPacerLiveAudioStall(t *testing.T) {
	ms := time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: 100 * ms}
	for i := range 500 {
		pts := time.Duration(i) * 20 * ms
		arrived := start.Add(pts)
		if pts >= 3*time.Second && pts < 4500*ms {
			arrived = start.Add(4500 * ms) // held by the stall
		}
		clk.t = maxTime(clk.t, arrived)
		_, err := p.WaitArrived(context.Background(), 1, pts, arrived)
		require.NoError(t, err)
		if pts >= 5*time.Second {
			require.Equal(t, start.Add(pts+100*ms), clk.t, "frame at %v keeps the 100 ms delay", pts)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stepClock is a manual clock whose sleepers wait until Advance reaches
// their time, so several goroutines can wait on one pacer.
type stepClock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []stepWaiter
}

type stepWaiter struct {
	at time.Time
	ch chan struct{}
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	w := stepWaiter{at: c.t.Add(d), ch: make(chan struct{})}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *stepClock) sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.t) {
			kept = append(kept, w)
			continue
		}
		close(w.ch)
	}
	c.waiters = kept
}

// TestPacerFileTracksStartApart: a file whose video starts 0.5 s after its
// audio, and whose video frame reaches the pacer first (the audio sat in a
// transcoder): the audio's first frames still leave on their timestamps,
// not at once in a burst, and the video after them, on its own.
func TestPacerFileTracksStartApart(t *testing.T) {
	ms := time.Millisecond
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &stepClock{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep, Delay: 100 * ms}

	var mu sync.Mutex
	left := map[time.Duration]time.Duration{} // PTS: release time since start
	var wg sync.WaitGroup
	wait := func(pts time.Duration) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Wait(context.Background(), pts)
			assert.NoError(t, err)
			mu.Lock()
			left[pts] = clk.now().Sub(start)
			mu.Unlock()
		}()
	}
	wait(500 * ms) // the first video frame
	require.Eventually(t, func() bool { return clk.sleepers() == 1 }, 5*time.Second, ms)
	clk.advance(10 * ms)
	for _, pts := range []time.Duration{0, 20 * ms, 40 * ms} { // the first audio frames
		wait(pts)
	}
	// Every frame waits on the clock or has recorded when it left: a
	// goroutine the clock woke is neither until it has, so the clock is
	// not advanced again before (a fixed real-time pause was not always
	// enough on a loaded machine: 0 left at 110 ms).
	settled := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return clk.sleepers()+len(left) == 4
	}
	require.Eventually(t, settled, 5*time.Second, ms, "every frame waits or has left")
	for range 100 {
		clk.advance(10 * ms)
		require.Eventually(t, settled, 5*time.Second, 50*time.Microsecond, "every frame waits or has left")
	}
	wg.Wait()
	require.Equal(t, map[time.Duration]time.Duration{
		0: 100 * ms, 20 * ms: 120 * ms, 40 * ms: 140 * ms, // Delay after the first (earliest) frame
		500 * ms: 600 * ms, // 0.5 s after the audio's start, not at the video's arrival + Delay
	}, left)
	require.Zero(t, p.Resets())

	// Once a frame has left, the origin stays: an earlier frame is late.
	late, err := p.Wait(context.Background(), 10*ms)
	require.NoError(t, err)
	require.Equal(t, 900*ms, late, "now 1010 ms, due 110 ms")
}
