package server

import "context"

// Drain stops taking sessions (publishes are refused, /availability
// answers 503) and waits for the running ones to end, at most until ctx is
// done. Close then ends whatever is left.
func (s *Server) Drain(ctx context.Context) error {
	if s.manager == nil {
		return nil
	}
	s.Logger.Infow("draining: no new sessions; waiting for the running ones", "sessions", s.manager.ActiveCount())
	return s.manager.Drain(ctx)
}
