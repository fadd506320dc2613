package ingress

import (
	"context"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/utils/guid"
	"github.com/livekit/protocol/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

// Webhooks sends, in standalone mode, the ingress webhooks livekit-server
// sends when it is the control plane: ingress_started when a session's
// state turns PUBLISHING, ingress_ended when it turns INACTIVE, COMPLETE
// or ERROR (livekit-server's IOInfo.UpdateIngressState). The payload is
// livekit-server's: the IngressInfo with its new state, and the room by
// name. Delivery is LiveKit's own notifier (livekit/protocol webhook): a
// POST of the event as JSON signed with the API key and secret (a JWT
// carrying the body's SHA-256 in the Authorization header), queued per
// ingress so that its events arrive in order, retried on failure, and
// dropped when the queue falls too far behind.
//
// In cluster mode livekit-server sends these events itself from the
// states the worker reports, so the worker sends none.
type Webhooks struct {
	n   webhook.QueuedNotifier
	log logger.Logger
}

// NewWebhooks returns the sender for conf (livekit-server's webhook
// section), signing with apiKey/apiSecret, or nil when conf has no URL.
// nodeID labels the livekit_webhook_* metrics, as in livekit-server.
func NewWebhooks(conf webhook.WebHookConfig, apiKey, apiSecret, nodeID string, log logger.Logger) (*Webhooks, error) {
	if len(conf.URLs) == 0 {
		return nil, nil
	}
	if conf.APIKey == "" {
		conf.APIKey = apiKey
	}
	if log == nil {
		log = logger.GetLogger()
	}
	// The notifier counts deliveries in these; they must exist first.
	webhook.InitWebhookStats(prometheus.Labels{"node_id": nodeID, "node_type": "INGRESS"})
	n, err := webhook.NewDefaultNotifier(conf, auth.NewSimpleKeyProvider(apiKey, apiSecret))
	if err != nil {
		return nil, err
	}
	log.Infow("sending ingress webhooks", "urls", len(conf.URLs))
	return &Webhooks{n: n, log: log}, nil
}

// Event returns the webhook livekit-server sends when an ingress's stored
// status goes from prev to info's: ingress_started, ingress_ended, or ""
// for none (BUFFERING, or no change).
func Event(info *livekit.IngressInfo, prev livekit.IngressState_Status) string {
	st := info.GetState().GetStatus()
	if st == prev {
		return ""
	}
	switch st {
	case livekit.IngressState_ENDPOINT_PUBLISHING:
		return webhook.EventIngressStarted
	case livekit.IngressState_ENDPOINT_INACTIVE, livekit.IngressState_ENDPOINT_COMPLETE, livekit.IngressState_ENDPOINT_ERROR:
		return webhook.EventIngressEnded
	}
	return ""
}

// StatusChanged queues the webhook of a status change, if there is one
// (the Manager's OnStatusChange). It does not block.
func (w *Webhooks) StatusChanged(info *livekit.IngressInfo, prev livekit.IngressState_Status) {
	if w == nil {
		return
	}
	name := Event(info, prev)
	if name == "" {
		return
	}
	ev := &livekit.WebhookEvent{
		Event:       name,
		Room:        &livekit.Room{Name: info.RoomName},
		IngressInfo: info,
		Id:          guid.New("EV_"),
		CreatedAt:   time.Now().Unix(),
	}
	if err := w.n.QueueNotify(context.Background(), ev); err != nil {
		w.log.Warnw("could not queue the webhook", err, "event", name, "ingressID", info.IngressId)
	}
}

// Close sends what is queued (the ingress_ended of the sessions shutdown
// ended), waiting at most until ctx is done; what is left then is
// abandoned to the process's exit.
func (w *Webhooks) Close(ctx context.Context) {
	if w == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		w.n.Stop(false)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		w.log.Infow("webhooks still queued at shutdown are not sent", "reason", context.Cause(ctx).Error())
	}
}
