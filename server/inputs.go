package server

import (
	"crypto/tls"
	"fmt"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/rtmp"
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
