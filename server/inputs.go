package server

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/rtmp"
	"github.com/tributary-ingress/tributary/ingest/srt"
)

// startRTMP starts the RTMP listener (rtmp_port) and the RTMPS one
// (rtmps_port with its certificate), as configured, for either mode. On
// error nothing is left listening.
func startRTMP(c *config.Config, auth rtmp.Authorizer, log logger.Logger) (plain, secure *rtmp.Server, err error) {
	if c.RTMPPort > 0 {
		plain = &rtmp.Server{Address: fmt.Sprintf(":%d", c.RTMPPort), Authorizer: auth, Logger: log.WithValues("input", "rtmp")}
		if err := plain.Initialize(); err != nil {
			return nil, nil, fmt.Errorf("rtmp_port %d: %w", c.RTMPPort, err)
		}
	}
	if c.RTMPSPort > 0 {
		fail := func(err error) (*rtmp.Server, *rtmp.Server, error) {
			if plain != nil {
				plain.Close()
			}
			return nil, nil, err
		}
		cert, err := tls.LoadX509KeyPair(c.RTMPSCertFile, c.RTMPSKeyFile)
		if err != nil {
			return fail(fmt.Errorf("rtmps_cert_file/rtmps_key_file: %w", err))
		}
		secure = &rtmp.Server{
			Address:    fmt.Sprintf(":%d", c.RTMPSPort),
			TLSConfig:  &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			Authorizer: auth, Logger: log.WithValues("input", "rtmps"),
		}
		if err := secure.Initialize(); err != nil {
			return fail(fmt.Errorf("rtmps_port %d: %w", c.RTMPSPort, err))
		}
	}
	return plain, secure, nil
}

// startSRT starts the SRT listener (srt_port) where encoders push MPEG-TS
// with an RTMP ingress's stream key as streamid, for either mode; nil when
// srt_port is 0.
func startSRT(c *config.Config, auth srt.Authorizer, log logger.Logger) (*srt.Server, error) {
	if c.SRTPort <= 0 {
		return nil, nil
	}
	s := &srt.Server{Address: fmt.Sprintf(":%d", c.SRTPort), Passphrase: c.SRTPassphrase,
		Authorizer: auth, Logger: log.WithValues("input", "srt")}
	if err := s.Initialize(); err != nil {
		return nil, fmt.Errorf("srt_port %d: %w", c.SRTPort, err)
	}
	return s, nil
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

// NodeID is node_id, or one made of the host name and process ID: the
// node of the metrics, webhooks and every log line.
func NodeID(c *config.Config) string { return nodeID(c) }

func nodeID(c *config.Config) string {
	if c.NodeID != "" {
		return c.NodeID
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("tributary-%s-%d", host, os.Getpid())
}
