package forward

// Held returns the audio packets and bytes held back.
func (f *Forwarder) Held() (packets, bytes int) {
	q := &f.held
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.held), q.bytes
}

// Settled reports whether the audio held waits for its time (or none is
// held).
func (f *Forwarder) Settled() bool {
	q := &f.held
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.held) == 0 || (!q.due.IsZero() && q.due.After(f.s.Clock().Now()))
}
