package ingress

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/webhook"
	"github.com/stretchr/testify/require"
)

func TestEvent(t *testing.T) {
	const (
		inactive   = livekit.IngressState_ENDPOINT_INACTIVE
		buffering  = livekit.IngressState_ENDPOINT_BUFFERING
		publishing = livekit.IngressState_ENDPOINT_PUBLISHING
		failed     = livekit.IngressState_ENDPOINT_ERROR
		complete   = livekit.IngressState_ENDPOINT_COMPLETE
	)
	for _, c := range []struct {
		prev, now livekit.IngressState_Status
		want      string
	}{
		{inactive, buffering, ""},
		{buffering, publishing, webhook.EventIngressStarted},
		{publishing, publishing, ""},
		{publishing, inactive, webhook.EventIngressEnded},
		{publishing, failed, webhook.EventIngressEnded},
		{buffering, failed, webhook.EventIngressEnded},
		{buffering, inactive, webhook.EventIngressEnded},
		{publishing, complete, webhook.EventIngressEnded},
		{failed, failed, ""},
		{publishing, buffering, ""},                   // a newer session took over
		{inactive, failed, webhook.EventIngressEnded}, // a refused publish
	} {
		info := &livekit.IngressInfo{State: &livekit.IngressState{Status: c.now}}
		require.Equal(t, c.want, Event(info, c.prev), "%s -> %s", c.prev, c.now)
	}
}

// TestStatusChanges: the manager reports every stored status change a
// session makes, in order, and none for a replaced session's late states,
// as livekit-server's IOInfo refuses them (out of date).
func TestStatusChanges(t *testing.T) {
	var (
		mu     sync.Mutex
		events []string
	)
	st, err := OpenStore(filepath.Join(t.TempDir(), "ingress.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	m := NewManager(ManagerConfig{
		Store: st, RTMPBaseURL: "rtmp://ingest.example/x", Logger: logger.GetLogger(),
		OnStatusChange: func(info *livekit.IngressInfo, prev livekit.IngressState_Status) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, Event(info, prev)+" "+info.State.Status.String())
		},
	})
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := events
		events = nil
		return out
	}
	info := createRTMP(t, m)

	s, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.SetInputVideo(&livekit.InputVideoState{Width: 1280}))
	require.NoError(t, s.SetPublishing())
	require.NoError(t, s.AddTrack(&livekit.TrackInfo{Sid: "TR_v"}))
	require.NoError(t, s.End())
	require.Equal(t, []string{
		" ENDPOINT_BUFFERING",
		"ingress_started ENDPOINT_PUBLISHING",
		"ingress_ended ENDPOINT_INACTIVE",
	}, take())

	// A failure ends the session at once; its final write changes nothing.
	s, err = m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.SetPublishing())
	require.NoError(t, s.Fail(errors.New("codec gone")))
	require.NoError(t, s.End())
	require.Equal(t, []string{
		" ENDPOINT_BUFFERING",
		"ingress_started ENDPOINT_PUBLISHING",
		"ingress_ended ENDPOINT_ERROR",
	}, take())

	// A newer publisher: the old session's end is out of date.
	first, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, first.SetPublishing())
	second, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, first.End())
	require.NoError(t, second.SetPublishing())
	require.NoError(t, second.End())
	require.Equal(t, []string{
		" ENDPOINT_BUFFERING",
		"ingress_started ENDPOINT_PUBLISHING",
		" ENDPOINT_BUFFERING",
		"ingress_started ENDPOINT_PUBLISHING",
		"ingress_ended ENDPOINT_INACTIVE",
	}, take())

	// A refused publish is an ERROR state, hence an ingress_ended.
	_, err = m.StartSession(info.StreamKey, livekit.IngressInput_WHIP_INPUT)
	require.ErrorIs(t, err, ErrWrongInput)
	require.Equal(t, []string{"ingress_ended ENDPOINT_ERROR"}, take())

	// A session a killed run left PUBLISHING ends at the next start.
	s, err = m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.SetPublishing())
	take()
	m2 := NewManager(ManagerConfig{Store: st, Logger: logger.GetLogger(), OnStatusChange: m.conf.OnStatusChange})
	_, err = m2.EndInterrupted()
	require.NoError(t, err)
	require.Equal(t, []string{"ingress_ended ENDPOINT_ERROR"}, take())
	require.NoError(t, s.End())
	require.Empty(t, take(), "ERROR stays")
}

// TestWebhooksDelivered: the events are POSTed signed the LiveKit way
// (protocol's webhook.Receive verifies them with the API secret), in
// order, with the IngressInfo and the room, and retried when the
// receiver fails.
func TestWebhooksDelivered(t *testing.T) {
	const key, secret = "APIkey", "0123456789abcdef0123456789abcdef"
	got := make(chan *livekit.WebhookEvent, 10)
	var (
		mu    sync.Mutex
		calls int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		ev, err := webhook.ReceiveWebhookEvent(r, auth.NewSimpleKeyProvider(key, secret))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got <- ev
	}))
	defer srv.Close()

	wh, err := NewWebhooks(webhook.WebHookConfig{URLs: []string{srv.URL + "/hook"}}, key, secret, "node", logger.GetLogger())
	require.NoError(t, err)
	info := &livekit.IngressInfo{IngressId: "IN_abc", RoomName: "stage", StreamKey: "k",
		State: &livekit.IngressState{Status: livekit.IngressState_ENDPOINT_PUBLISHING, ResourceId: "RT_x"}}
	wh.StatusChanged(info, livekit.IngressState_ENDPOINT_BUFFERING)
	ended := &livekit.IngressInfo{IngressId: "IN_abc", RoomName: "stage",
		State: &livekit.IngressState{Status: livekit.IngressState_ENDPOINT_INACTIVE, ResourceId: "RT_x"}}
	wh.StatusChanged(ended, livekit.IngressState_ENDPOINT_PUBLISHING)
	wh.StatusChanged(ended, livekit.IngressState_ENDPOINT_INACTIVE) // no change: nothing

	for _, want := range []struct {
		event  string
		status livekit.IngressState_Status
	}{
		{webhook.EventIngressStarted, livekit.IngressState_ENDPOINT_PUBLISHING},
		{webhook.EventIngressEnded, livekit.IngressState_ENDPOINT_INACTIVE},
	} {
		select {
		case ev := <-got:
			require.Equal(t, want.event, ev.Event)
			require.Equal(t, "IN_abc", ev.IngressInfo.GetIngressId())
			require.Equal(t, want.status, ev.IngressInfo.GetState().GetStatus())
			require.Equal(t, "RT_x", ev.IngressInfo.GetState().GetResourceId())
			require.Equal(t, "stage", ev.Room.GetName())
			require.Regexp(t, `^EV_`, ev.Id)
			require.NotZero(t, ev.CreatedAt)
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s", want.event)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wh.Close(ctx)
	select {
	case ev := <-got:
		t.Fatalf("unexpected %s", ev.Event)
	default:
	}
	mu.Lock()
	require.Equal(t, 3, calls, "one failed attempt, retried")
	mu.Unlock()

	none, err := NewWebhooks(webhook.WebHookConfig{}, key, secret, "node", nil)
	require.NoError(t, err)
	require.Nil(t, none)
	none.StatusChanged(info, livekit.IngressState_ENDPOINT_BUFFERING) // a nil sender sends nothing
	none.Close(ctx)
}
