package forward

// Held returns the most packets and bytes any stream holds back.
func (f *Forwarder) Held() (packets, bytes int) {
	for i := range f.holds {
		q := &f.holds[i]
		q.mu.Lock()
		packets, bytes = max(packets, len(q.held)), max(bytes, q.bytes)
		q.mu.Unlock()
	}
	return packets, bytes
}

// Settled reports whether every stream's packets held wait for their time
// (or none is held).
func (f *Forwarder) Settled() bool {
	for i := range f.holds {
		q := &f.holds[i]
		q.mu.Lock()
		ok := len(q.held) == 0 || (!q.due.IsZero() && q.due.After(f.s.Clock().Now()))
		q.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}
