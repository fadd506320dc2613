package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/rtmp"
	"github.com/tributary-ingress/tributary/ingest/srt"
	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/internal/netlimit"
)

// endpoints are the listeners of a node: HTTP ports and the media
// inputs.
type endpoints struct {
	https   []*http.Server
	serving []chan error
	rtmp    *rtmp.Server
	rtmps   *rtmp.Server
	whip    *whip.Server
	srt     *srt.Server
	// health is the health_port handler, also served on the WHIP port.
	health http.Handler
	// whipRemote reaches the WHIP resources other workers hold (cluster
	// mode); nil standalone.
	whipRemote whip.Remote
}

// serveHTTP serves h on port of every interface; key names the config key
// in errors.
func (e *endpoints) serveHTTP(key string, port int, h http.Handler) error {
	return e.serveHTTPOn(key, "", port, h)
}

// serveHTTPOn serves h on host:port (host "" is every interface).
func (e *endpoints) serveHTTPOn(key, host string, port int, h http.Handler) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%s %d: %w", key, port, err)
	}
	srv := newHTTPServer(h)
	done := make(chan error, 1)
	limited := netlimit.Wrap(ln, httpLimits.MaxConns, httpLimits.MaxConnsPerIP, nil)
	go func() { done <- srv.Serve(limited) }()
	e.https = append(e.https, srv)
	e.serving = append(e.serving, done)
	return nil
}

// serveOps serves the operations ports that are set: health_port,
// prometheus_port and debug_handler_port.
func (e *endpoints) serveOps(c *config.Config, health, metrics http.Handler) error {
	e.health = health
	for _, p := range []struct {
		key  string
		host string
		port int
		h    http.Handler
	}{
		{"health_port", "", c.HealthPort, health},
		{"prometheus_port", "", c.PrometheusPort, metrics},
		// Profiles and goroutine dumps show the process's internals:
		// loopback unless debug_handler_bind_address says otherwise.
		{"debug_handler_port", c.DebugHandlerBindAddress, c.DebugHandlerPort, debugHandler()},
	} {
		if p.port <= 0 {
			continue
		}
		if err := e.serveHTTPOn(p.key, p.host, p.port, p.h); err != nil {
			return err
		}
	}
	return nil
}

// closeHTTP shuts the HTTP ports down, waiting at most 5 s for requests
// in flight.
func (e *endpoints) closeHTTP() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, h := range e.https {
		_ = h.Shutdown(ctx)
		<-e.serving[i]
	}
}

// debugHandler serves Go's profiles on debug_handler_port (both modes):
// /debug/pprof/ (goroutine, heap, profile?seconds=N, trace, …). It shows
// the process's internals: keep the port private.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
