package main

import (
	"testing"
	"time"
)

// TestDrainContext: drain_timeout 0 waits for every session (no
// deadline), as the official worker does on SIGTERM; any other value
// bounds the drain.
func TestDrainContext(t *testing.T) {
	ctx, cancel := drainContext(0)
	if _, ok := ctx.Deadline(); ok {
		t.Fatal("drain_timeout 0 must not set a deadline")
	}
	cancel()
	if ctx.Err() == nil {
		t.Fatal("cancel ends the drain (a second signal)")
	}

	ctx, cancel = drainContext(time.Minute)
	defer cancel()
	d, ok := ctx.Deadline()
	if !ok || time.Until(d) > time.Minute {
		t.Fatalf("deadline %v, %v", d, ok)
	}
}
