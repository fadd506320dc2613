package room

import (
	"context"
	"testing"
	"time"

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
	_, err := p.WaitArrived(context.Background(), 0, start.Add(80*ms))
	require.NoError(t, err)
	require.Equal(t, 100*ms, clk.t.Sub(start))
	// The next frames arrive on the source's schedule: they leave 20 ms after.
	for i := 1; i <= 3; i++ {
		arrived := start.Add(time.Duration(i) * 33 * ms)
		if clk.t.Before(arrived) {
			clk.t = arrived
		}
		_, err := p.WaitArrived(context.Background(), time.Duration(i)*33*ms, arrived)
		require.NoError(t, err)
	}
	require.Equal(t, 3*33*ms+20*ms, clk.t.Sub(start))
}
