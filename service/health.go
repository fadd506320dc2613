package service

import "net/http"

// HealthHandler answers GET / and /availability: 200 while the server can
// take sessions, 503 once it is shutting down.
func (m *Manager) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	h := func(w http.ResponseWriter, _ *http.Request) {
		m.mu.Lock()
		closed := m.closed
		m.mu.Unlock()
		if closed {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("OK\n"))
	}
	mux.HandleFunc("/", h)
	mux.HandleFunc("/availability", h)
	return mux
}
