package ingress

import "net/http"

// HealthHandler answers GET / and /availability as the official worker's
// health port does: / is liveness, 200 while the process serves (a
// draining server is alive: a probe must not restart it mid-drain);
// /availability is readiness, 200 while the server can take sessions and
// 503 once it is draining or shutting down, or while admission would
// refuse the most expensive session (a transcode), as the official
// worker's /availability answers from its CPU budget.
func (m *Manager) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("Healthy\n"))
	})
	mux.HandleFunc("/availability", func(w http.ResponseWriter, _ *http.Request) {
		m.mu.Lock()
		closed := m.closed
		m.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		if closed {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("No availability: shutting down\n"))
			return
		}
		if a := m.conf.Admission; a != nil && !a.CanAccept() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("No availability: no CPU capacity for one more transcoding session\n"))
			return
		}
		_, _ = w.Write([]byte("Available\n"))
	})
	return mux
}
