package ingress

import (
	"context"
	"fmt"
)

// Drain refuses new sessions from now on (the health endpoint answers 503)
// and waits until the running ones have ended by themselves, at most until
// ctx is done; Close then ends whatever is left.
func (m *Manager) Drain(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() {
		m.sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sessions still running after the drain: %w", ctx.Err())
	}
}

// ActiveCount returns how many sessions are running.
func (m *Manager) ActiveCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.active)
}
