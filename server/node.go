// Package server assembles a Tributary node: the inputs (RTMP/RTMPS, WHIP,
// SRT, URL pulls), the operations ports, the transcoders and the metrics,
// with each publish turned into a session that publishes into LiveKit. It
// is the composition root: the one place that sees every package.
//
// One Node runs either mode. What differs between them — where a publish
// is authorized and where its session reports, admission, the health
// answer, the WHIP proxy — is the node's authority: the standalone
// manager (store, Twirp API, webhooks; standalone.go) or the cluster
// worker (livekit-server over Redis and psrpc; clusterworker.go).
package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/ingest/whip"
	"github.com/tributary-ingress/tributary/ingress"
	"github.com/tributary-ingress/tributary/internal/monitor"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/room"
)

// Node is a running Tributary, standalone or a worker of a livekit-server
// cluster (cluster mode, when the config names a Redis).
type Node struct {
	Config *config.Config
	Logger logger.Logger

	auth authority
	// opened is set once auth.open succeeded: only then do drain, stop
	// and activeCount apply.
	opened bool
	mon    *monitor.Monitor // metrics (prometheus_port), admission, overload shedding
	endpoints
	pulls pulls
}

// authority is where a node's publishes are authorized and where their
// sessions report. Everything else — listeners, media sessions,
// transcoders, metrics — is the node's, once.
type authority interface {
	// admission sets how the monitor admits sessions (Admission,
	// Committed).
	admission(c *config.Config, mc *monitor.Config)
	// isolateByDefault is isolate_transcoding's default.
	isolateByDefault() bool
	// open starts the mode's side (store and API, or Redis and the psrpc
	// bus) once the node's monitor and URL client exist; it returns the
	// health_port handler.
	open(n *Node) (health http.Handler, err error)
	// authorize starts the run of a publish on streamKey for input.
	authorize(streamKey string, input livekit.IngressInput) (ingressRun, error)
	// whip returns the publisher of a WHIP run when the mode runs it
	// itself (the cluster's proxy mode), nil when the node's own applies;
	// it may also connect the run's WHIP resource to the node's endpoint.
	whip(n *Node, r ingressRun, streamKey string) whip.Publisher
	// activeCount, drain and stop are called only after open succeeded.

	// activeCount is the number of running sessions.
	activeCount() int
	// drain refuses new sessions and waits for the running ones, at most
	// until ctx is done.
	drain(ctx context.Context) error
	// stop ends the running sessions, waiting for their final state at
	// most until ctx is done.
	stop(ctx context.Context) error
	// close releases what open took, after the listeners have stopped.
	close(ctx context.Context)
	// started logs that the node serves.
	started(n *Node)
}

// ingressRun is one run of an ingress, as either authority hands it out:
// what a media session reports to, plus the end hook of the metrics.
type ingressRun interface {
	pipeline.Reporter
	OnEnd(func())
}

// asRun returns an authority's run as an ingressRun: nil, not a typed
// nil, with an error.
func asRun[R ingressRun](r R, err error) (ingressRun, error) {
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Initialize starts the node in the mode its config says, opening the
// authority's side and every listener. On error, what was started is
// stopped again.
func (n *Node) Initialize() (err error) {
	c := n.Config
	if n.Logger == nil {
		n.Logger = logger.GetLogger()
	}
	if c.ClusterMode() {
		n.auth = &clusterWorker{}
	} else {
		n.auth = &standalone{}
	}
	defer func() {
		if err != nil {
			n.Close(context.Background())
		}
	}()
	mc := monitor.Config{Costs: costsOf(c.CPUCost), NodeID: nodeID(c), Logger: n.Logger.WithValues("component", "monitor")}
	n.auth.admission(c, &mc)
	n.mon, err = monitor.New(mc)
	if err != nil {
		return err
	}
	if err := n.pulls.init(c, n.Logger); err != nil {
		return err
	}
	health, err := n.auth.open(n)
	if err != nil {
		return err
	}
	n.opened = true
	if err := n.serveOps(c, health, n.mon.Handler()); err != nil {
		return err
	}
	if err := n.startInputs(c, n, n.Logger); err != nil {
		return err
	}
	n.auth.started(n)
	return nil
}

// Drain stops taking sessions (publishes are refused, StartIngress bids
// -1, /availability answers 503) and waits for the running ones to end,
// at most until ctx is done. Close then ends whatever is left.
func (n *Node) Drain(ctx context.Context) error {
	if n.mon != nil {
		n.mon.SetDraining()
	}
	if !n.opened {
		return nil
	}
	n.Logger.Infow("draining: no new sessions; waiting for the running ones", "sessions", n.auth.activeCount())
	return n.auth.drain(ctx)
}

// Close stops taking sessions, ends the running ones (waiting for their
// final state at most until ctx is done), and stops every listener.
func (n *Node) Close(ctx context.Context) {
	if n.mon != nil {
		n.mon.SetDraining()
	}
	if n.opened {
		if err := n.auth.stop(ctx); err != nil {
			n.Logger.Warnw("shutdown", err)
		}
	}
	n.closeInputs()
	n.pulls.close()
	n.closeHTTP()
	if n.auth != nil {
		n.auth.close(ctx)
	}
	if n.mon != nil {
		n.mon.Close()
	}
}

// authorize starts the run of a publish, wording a refusal for the log
// and the encoder.
func (n *Node) authorize(streamKey string, input livekit.IngressInput) (ingressRun, error) {
	r, err := n.auth.authorize(streamKey, input)
	if errors.Is(err, ingress.ErrNotFound) {
		return nil, errors.New("stream key not found")
	}
	return r, err
}

// track exports a session's counters in the metrics until it ends.
func (n *Node) track(r ingressRun) *pipeline.Stats {
	st := &pipeline.Stats{}
	r.OnEnd(n.mon.Track(r.Info(), r.ResourceID(), st))
	return st
}

func (n *Node) roomConfig() room.Config {
	return room.Config{URL: n.Config.WsURL, APIKey: n.Config.APIKey, APISecret: n.Config.APISecret}
}

// costsOf converts the cpu_cost section.
func costsOf(c config.CPUCostConfig) monitor.Costs {
	return monitor.Costs{
		RTMP: c.RTMPCPUCost, WHIP: c.WHIPCPUCost, WHIPBypass: c.WHIPBypassTranscodingCPUCost,
		URL: c.URLCPUCost, MinIdleRatio: c.MinIdleRatio,
	}
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
