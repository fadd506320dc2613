// Package pipelinetest has fakes for testing sessions without a LiveKit
// server, a transcoder or the wall clock: a Clock that moves only when
// told, Rooms whose rooms record what is published and written into them
// and can be disconnected, a Reporter that records the state a session
// reports, and Transcoders that pass frames through.
package pipelinetest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Clock is a pipeline.Clock that moves only with Advance. Its zero value
// is not ready: use NewClock.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []timer
}

type timer struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a clock at an arbitrary fixed time.
func NewClock() *Clock {
	return &Clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After sends the clock's time on the channel once it has moved d ahead.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, timer{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock d ahead, firing the timers due on the way.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	slices.SortStableFunc(c.timers, func(a, b timer) int { return a.at.Compare(b.at) })
	n := 0
	for _, t := range c.timers {
		if t.at.After(c.now) {
			break
		}
		t.ch <- t.at
		n++
	}
	c.timers = slices.Delete(c.timers, 0, n)
}

// Pending returns how far ahead each waiting timer is, soonest first.
func (c *Clock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Duration, 0, len(c.timers))
	for _, t := range c.timers {
		out = append(out, t.at.Sub(c.now))
	}
	slices.Sort(out)
	return out
}

// WaitTimer waits (in real time, up to Patience) until a timer d ahead of
// the clock's time is waiting: something has started waiting d.
func (c *Clock) WaitTimer(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for {
		if slices.Contains(c.Pending(), d) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing started waiting %v; waiting: %v", d, c.Pending())
		}
		time.Sleep(time.Millisecond)
	}
}

// Run advances the clock by step, letting the goroutines run between
// steps, until done reports true; it fails the test after max of clock
// time. It returns the clock time that passed.
func (c *Clock) Run(t testing.TB, step, max time.Duration, done func() bool) time.Duration {
	t.Helper()
	var passed time.Duration
	for !done() {
		if passed >= max {
			t.Fatalf("not done after %v", passed)
		}
		c.Advance(step)
		passed += step
		time.Sleep(time.Millisecond)
	}
	return passed
}

// Patience bounds the real time the helpers wait for a goroutine.
const Patience = 10 * time.Second

// Eventually waits (in real time, up to Patience) until cond is true.
func Eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(time.Millisecond)
	}
}
