package server

import (
	"net/http"
	"time"
)

// Limits of the HTTP ports (the API and console, health, metrics and
// debug ports), which are reachable from the network: every size, time
// and count is bounded, so slow or idle clients cannot hold connections
// (slowloris) and no single address can take them all. WHIP has its own
// server (ingest/whip) with the same kind of bounds.
var httpLimits = struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxHeaderBytes                int
	// MaxConns bounds the open connections of a port; MaxConnsPerIP those
	// from one address. Over either, a new connection is closed at once.
	MaxConns, MaxConnsPerIP int
}{
	ReadHeader:     10 * time.Second,
	Read:           30 * time.Second,
	Write:          2 * time.Minute, // a 60 s CPU profile from the debug port fits
	Idle:           time.Minute,
	MaxHeaderBytes: 64 << 10,
	MaxConns:       1024,
	MaxConnsPerIP:  64,
}

// newHTTPServer returns an http.Server for h with httpLimits' timeouts.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpLimits.ReadHeader,
		ReadTimeout:       httpLimits.Read,
		WriteTimeout:      httpLimits.Write,
		IdleTimeout:       httpLimits.Idle,
		MaxHeaderBytes:    httpLimits.MaxHeaderBytes,
	}
}
