package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/console"
	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/ingress"
	"github.com/tributary-ingress/tributary/internal/monitor"
)

// standalone is the authority of a node on its own: the store and the
// session manager own the ingress records, the Twirp Ingress API and the
// console are served on api_port, and ingress webhooks go out from here.
type standalone struct {
	store   *ingress.Store
	manager *ingress.Manager
	hooks   *ingress.Webhooks // ingress_started/ingress_ended (webhook section); nil without URLs
}

// Standalone admission charges the costs of the running sessions against
// the machine's cores (standalone_admission), and the overload controller
// sheds layers when they still do not keep up.
func (*standalone) admission(c *config.Config, mc *monitor.Config) {
	mc.Admission, mc.Committed = c.Admission(), true
}
func (*standalone) isolateByDefault() bool { return false }

func (a *standalone) open(n *Node) (http.Handler, error) {
	c := n.Config
	var err error
	if a.store, err = ingress.OpenStore(c.StorePath); err != nil {
		return nil, err
	}
	a.hooks, err = ingress.NewWebhooks(c.Webhook, c.APIKey, c.APISecret, nodeID(c), n.Logger.WithValues("component", "webhook"))
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	mc := ingress.ManagerConfig{Store: a.store, RTMPBaseURL: c.RTMPBaseURL, WHIPBaseURL: c.WHIPBaseURL, EnableUDPURLPull: c.EnableUDPURLPull, Logger: n.Logger,
		Admission: n.mon}
	if a.hooks != nil {
		mc.OnStatusChange = a.hooks.StatusChanged
	}
	a.manager = ingress.NewManager(mc)
	// Sessions a killed or crashed run left "running" in the store end
	// now, before anything is served. A store that cannot be written (a
	// full disk) does not keep the server down: reads still work, and the
	// next start ends them.
	if _, ierr := a.manager.EndInterrupted(); ierr != nil {
		n.Logger.Warnw("could not end the sessions interrupted by the restart", ierr)
	}
	a.manager.SetURLLauncher(func(s *ingress.Run) { n.launchURL(s) })
	api := ingress.NewAPI(a.manager, auth.NewSimpleKeyProvider(c.APIKey, c.APISecret))
	mux := http.NewServeMux()
	mux.Handle(api.PathPrefix(), api.Handler())
	web := &console.Console{APIKey: c.APIKey, APISecret: c.APISecret, WsURL: c.WsURL, SecureCookies: c.SecureCookies, Logger: n.Logger.WithValues("component", "console")}
	if err := web.Initialize(); err != nil {
		return nil, err
	}
	mux.Handle("/", web)
	if err := n.serveHTTP("api_port", c.APIPort, mux); err != nil {
		return nil, err
	}
	return a.manager.HealthHandler(), nil
}

func (a *standalone) authorize(streamKey string, input livekit.IngressInput) (ingressRun, error) {
	return asRun(a.manager.StartSession(streamKey, input))
}

// The node runs every WHIP session itself.
func (*standalone) whip(*Node, ingressRun, string) whip.Publisher { return nil }

func (a *standalone) activeCount() int                { return a.manager.ActiveCount() }
func (a *standalone) drain(ctx context.Context) error { return a.manager.Drain(ctx) }
func (a *standalone) stop(ctx context.Context) error  { return a.manager.Close(ctx) }

func (a *standalone) close(ctx context.Context) {
	a.hooks.Close(ctx) // the ingress_ended of the sessions just ended
	if a.store != nil {
		_ = a.store.Close()
	}
}

func (a *standalone) started(n *Node) {
	c := n.Config
	n.Logger.Infow("tributary started",
		"apiPort", c.APIPort, "healthPort", c.HealthPort, "prometheusPort", c.PrometheusPort, "rtmpPort", c.RTMPPort, "whipPort", c.WHIPPort, "rtmpsPort", c.RTMPSPort, "srtPort", c.SRTPort,
		"store", c.StorePath, "rtmpBaseURL", c.RTMPBaseURL, "whipBaseURL", c.WHIPBaseURL, "wsURL", c.WsURL)
}
