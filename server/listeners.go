package server

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/rtmp"
	"github.com/tributary-ingress/tributary/ingest/srt"
	"github.com/tributary-ingress/tributary/ingest/whip"
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

// inputAuthorizer authorizes the publishes of every input.
type inputAuthorizer interface {
	rtmp.Authorizer
	whip.Authorizer
	srt.Authorizer
}

// startInputs starts the RTMP/RTMPS, WHIP and SRT listeners that are
// configured, authorizing publishes with auth.
func (e *endpoints) startInputs(c *config.Config, auth inputAuthorizer, log logger.Logger) (err error) {
	if e.rtmp, e.rtmps, err = startRTMP(c, auth, log); err != nil {
		return err
	}
	if c.WHIPPort > 0 {
		if e.whip, err = startWHIPServer(c, auth, e.health, e.whipRemote, log); err != nil {
			return err
		}
	}
	e.srt, err = startSRT(c, auth, log)
	return err
}

// closeInputs stops the media listeners.
func (e *endpoints) closeInputs() {
	for _, r := range []*rtmp.Server{e.rtmp, e.rtmps} {
		if r != nil {
			r.Close()
		}
	}
	if e.whip != nil {
		e.whip.Close()
	}
	if e.srt != nil {
		e.srt.Close()
	}
}

// startWHIPServer starts a WHIP endpoint on whip_port with the ICE
// settings of rtc_config, authorizing publishes with auth; it also serves
// health's answers at /health and /availability. remote (cluster mode)
// takes the DELETE and PATCH requests for resources other workers hold.
func startWHIPServer(c *config.Config, auth whip.Authorizer, health http.Handler, remote whip.Remote, log logger.Logger) (*whip.Server, error) {
	w := &whip.Server{
		Address:    fmt.Sprintf(":%d", c.WHIPPort),
		Authorizer: auth,
		ICE:        whipICE(c),
		Logger:     log.WithValues("input", "whip"),
		Health:     health,
		Remote:     remote,
	}
	if err := w.Initialize(); err != nil {
		return nil, fmt.Errorf("whip_port %d: %w", c.WHIPPort, err)
	}
	return w, nil
}

// whipICE turns rtc_config into the WHIP transport settings. Every key
// has the meaning LiveKit's WebRTC settings give it in the official
// worker; the keys that do nothing with the rest of the section are
// named at start (config.NoEffect).
func whipICE(c *config.Config) whip.ICEConfig {
	rc := c.RTCConfig
	nodeIPs, _ := rc.NodeIPs() // checked by config.Validate
	return whip.ICEConfig{
		UDPPort:                  rc.UDPPort.Start,
		UDPPortEnd:               rc.UDPPort.End,
		PortRangeStart:           int(rc.ICEPortRangeStart),
		PortRangeEnd:             int(rc.ICEPortRangeEnd),
		UseSTUNPortAsICE:         rc.UseStunPortAsICE,
		TCPPort:                  int(rc.TCPPort),
		ForceTCP:                 rc.ForceTCP,
		NodeIPs:                  nodeIPs,
		AdvertiseInternalIP:      rc.AdvertiseInternalIP,
		UseExternalIP:            rc.UseExternalIP,
		ExternalIPOnly:           rc.ExternalIPOnly,
		SkipExternalIPValidation: rc.SkipExternalIPValidation,
		RequireIPv4:              rc.RequireIPv4,
		STUNServers:              rc.STUN(),
		UseICELite:               rc.UseICELite,
		UseMDNS:                  rc.UseMDNS,
		IncludeLoopback:          rc.EnableLoopbackCandidate,
		Interfaces:               whip.Filter{Includes: rc.Interfaces.Includes, Excludes: rc.Interfaces.Excludes},
		IPs:                      whip.Filter{Includes: rc.IPs.Includes, Excludes: rc.IPs.Excludes},
		BatchSize:                rc.BatchIO.BatchSize,
		BatchFlushInterval:       rc.BatchIO.MaxFlushInterval,
		SCTPMinCwnd:              rc.SCTPMinCwnd,
		SCTPFastRtxWnd:           rc.SCTPFastRtxWnd,
		SCTPCwndCAStep:           rc.SCTPCwndCAStep,
		HostAcceptanceMinWait:    rc.HostAcceptanceMinWait,
		SrflxAcceptanceMinWait:   rc.SrflxAcceptanceMinWait,
		PrflxAcceptanceMinWait:   rc.PrflxAcceptanceMinWait,
		RelayAcceptanceMinWait:   rc.RelayAcceptanceMinWait,
		Development:              c.Development,
	}
}
