package ingress

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHealthHandler: / is liveness and stays 200 while the server drains
// (as the official worker's), /availability turns 503.
func TestHealthHandler(t *testing.T) {
	m := newTestManager(t)
	h := m.HealthHandler()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	code, body := get("/")
	require.Equal(t, 200, code)
	require.Equal(t, "Healthy\n", body)
	code, body = get("/availability")
	require.Equal(t, 200, code)
	require.Equal(t, "Available\n", body)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = m.Drain(ctx)
	code, _ = get("/")
	require.Equal(t, 200, code, "alive while draining")
	code, body = get("/availability")
	require.Equal(t, 503, code)
	require.Contains(t, body, "No availability")
}
