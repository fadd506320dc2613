package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// webhookReceiver is an application's webhook endpoint: it verifies every
// request as LiveKit's SDKs do (protocol's webhook.ReceiveWebhookEvent:
// the JWT signed with the API secret, the body's SHA-256 in it) and
// answers the first request 503, so that the sender must retry.
type webhookReceiver struct {
	srv    *httptest.Server
	events chan *livekit.WebhookEvent

	mu       sync.Mutex
	requests int
	rejected []string
}

func startWebhookReceiver(t *testing.T, key, secret string) *webhookReceiver {
	w := &webhookReceiver{events: make(chan *livekit.WebhookEvent, 16)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.requests++
		first := w.requests == 1
		w.mu.Unlock()
		if first {
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(rw, "warming up", http.StatusServiceUnavailable)
			return
		}
		ev, err := webhook.ReceiveWebhookEvent(r, auth.NewSimpleKeyProvider(key, secret))
		if err != nil {
			w.mu.Lock()
			w.rejected = append(w.rejected, err.Error())
			w.mu.Unlock()
			http.Error(rw, err.Error(), http.StatusUnauthorized)
			return
		}
		w.events <- ev
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookReceiver) next(t *testing.T, within time.Duration) *livekit.WebhookEvent {
	t.Helper()
	select {
	case ev := <-w.events:
		return ev
	case <-time.After(within):
		w.mu.Lock()
		defer w.mu.Unlock()
		t.Fatalf("no webhook within %v (%d requests, rejected: %v)", within, w.requests, w.rejected)
		return nil
	}
}

// TestWebhooksStandalone: a standalone Tributary with livekit-server's
// webhook section sends ingress_started when an RTMP push from ffmpeg
// starts publishing and ingress_ended when it stops, as livekit-server
// sends them: signed with the API key/secret (verified here with
// livekit/protocol's receiver), with the IngressInfo and its state, and
// retried after a failed delivery.
func TestWebhooksStandalone(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	hooks := startWebhookReceiver(t, "devkey", "secret")
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf(
		"webhook:\n  api_key: devkey\n  urls:\n    - %s/livekit\n", hooks.srv.URL)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	off := false
	info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, Name: "hooked", RoomName: "webhooks",
		ParticipantIdentity: "src", EnableTranscoding: &off,
	})
	require.NoError(t, err)
	url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey)
	src := source{size: "640x360", rate: "30", audio: true, secs: 6}
	ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), src.ffmpegArgs(url)...)

	started := hooks.next(t, 45*time.Second)
	require.Equal(t, webhook.EventIngressStarted, started.Event)
	require.Equal(t, info.IngressId, started.IngressInfo.GetIngressId())
	require.Equal(t, livekit.IngressState_ENDPOINT_PUBLISHING, started.IngressInfo.GetState().GetStatus())
	require.Regexp(t, `^RT_`, started.IngressInfo.GetState().GetResourceId())
	require.Equal(t, "webhooks", started.IngressInfo.GetRoomName())
	require.Equal(t, "webhooks", started.Room.GetName())
	require.Equal(t, livekit.IngressInput_RTMP_INPUT, started.IngressInfo.GetInputType())
	require.True(t, strings.HasPrefix(started.Id, "EV_"), started.Id)

	select {
	case <-ff.Done():
	case <-ctx.Done():
		t.Fatal("ffmpeg did not finish")
	}
	ended := hooks.next(t, 45*time.Second)
	require.Equal(t, webhook.EventIngressEnded, ended.Event)
	require.Equal(t, info.IngressId, ended.IngressInfo.GetIngressId())
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, ended.IngressInfo.GetState().GetStatus())
	require.Equal(t, started.IngressInfo.GetState().GetResourceId(), ended.IngressInfo.GetState().GetResourceId())
	require.NotZero(t, ended.IngressInfo.GetState().GetEndedAt())

	select {
	case ev := <-hooks.events:
		t.Fatalf("unexpected %s", ev.Event)
	case <-time.After(time.Second):
	}
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	require.Empty(t, hooks.rejected, "every delivery verifies")
	require.Equal(t, 3, hooks.requests, "the failed first delivery was retried")
}
