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
	get := healthGet(m.HealthHandler())
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

// TestHealthAvailabilityFollowsAdmission: while admission would refuse a
// session, /availability answers 503 with the reason, and 200 again once
// a session ended.
func TestHealthAvailabilityFollowsAdmission(t *testing.T) {
	a := &oneSlot{}
	m := newTestManager(t)
	m.conf.Admission = a
	get := healthGet(m.HealthHandler())
	code, _ := get("/availability")
	require.Equal(t, 200, code)
	release, err := a.Reserve(0, true)
	require.NoError(t, err)
	code, body := get("/availability")
	require.Equal(t, 503, code)
	require.Contains(t, body, "no CPU capacity")
	release()
	code, _ = get("/availability")
	require.Equal(t, 200, code)
}

// healthGet makes GET requests to h, returning the status and the body.
func healthGet(h http.Handler) func(path string) (int, string) {
	return func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
}
