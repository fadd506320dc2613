package server

import (
	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/whip"
)

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
