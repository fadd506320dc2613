package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/e2e"
)

// TestRTMPRejoinsAfterFinalDisconnect covers the session's own rejoin path
// (session/run.go rejoin), which runs only once the LiveKit connection is
// gone for good: the SDK has reported a final disconnect whose reason our
// rules call retryable.
//
// Keeping livekit-server down until server-sdk-go v2.19.0 gives up does not
// fit in a test: its engine makes up to 10 attempts with sleeps of
// n²×300 ms (n = 0…8), about 61 s of sleeping alone, and a failed resume
// resets the count when it escalates to a full reconnect. So the test makes
// the server end the connection itself: livekit-server's second SIGTERM
// means "stop now", which closes every room and sends each participant a
// LeaveRequest with action DISCONNECT and reason SERVER_SHUTDOWN. The SDK
// reports that at once as final (no reconnection of its own), and
// SERVER_SHUTDOWN is retryable by room.DisconnectReason. The server is then
// started again on the same ports once a rejoin attempt has failed: the
// session's rejoin, retrying with backoff, must join again, and a new viewer must get the video,
// while the encoder stays connected and the ingress never goes to ERROR.
func TestRTMPRejoinsAfterFinalDisconnect(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	info := createRTMP(ctx, t, c, "lazarus", "lazarus", false)

	ff := ffmpegRTMP(t, fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey), 60, baseline...)
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	first := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)

	// Watch the ingress state for the rest of the test: it must never be
	// ERROR. The watcher reports what it saw on a channel.
	wctx, wstop := context.WithCancel(fctx)
	defer wstop()
	sawError := make(chan string, 1)
	go func() {
		var bad string
		defer func() { sawError <- bad }()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			res, err := c.ListIngress(wctx, &livekit.ListIngressRequest{IngressId: info.IngressId})
			if err == nil && len(res.Items) == 1 && res.Items[0].State.GetStatus() == livekit.IngressState_ENDPOINT_ERROR && bad == "" {
				bad = res.Items[0].State.GetError()
			}
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	// Stop now: two SIGTERMs, as an operator (or an orchestrator's
	// escalation) does. The server takes the first as "drain"; the second,
	// sent once the first was handled (signals are coalesced), as "stop".
	require.NoError(t, syscall.Kill(lk.Process.PID(), syscall.SIGTERM))
	waitProcessLog(fctx, t, lk.Process, "exit requested, shutting down")
	require.NoError(t, syscall.Kill(lk.Process.PID(), syscall.SIGTERM))
	select {
	case <-lk.Process.Done():
	case <-fctx.Done():
		t.Fatalf("livekit-server did not stop: %v", context.Cause(fctx))
	}
	// Whether the SDK gets the server's leave (a final disconnect: our
	// rejoin) or only sees the connection drop (its own reconnection) is a
	// race inside livekit-server's shutdown; both must recover. The run
	// logs which path it took.
	ownRejoin := waitEitherLog(fctx, t, tr,
		"lost the LiveKit connection, joining again", "connection to LiveKit lost, reconnecting") == 0
	if ownRejoin {
		requireLog(fctx, t, tr, "lost the LiveKit connection, joining again", "SERVER_SHUTDOWN")
		// With the server gone, the first attempts fail: rejoin retries.
		requireLog(fctx, t, tr, "joining again failed, will retry")
		lk.Restart(t)
		requireLog(fctx, t, tr, "joined the room again")
	} else {
		t.Log("the SDK saw the connection drop before the leave: its own reconnection recovers")
		lk.Restart(t)
	}

	sub := e2e.NewSubscriber(t, lk, "lazarus")
	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && s.Width == 1280 && s.Window >= 2*time.Second && s.FPS > 20
	})
	require.NoError(t, err)
	require.Equal(t, 720, vt.Height)
	st := waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, first.State.ResourceId, st.State.ResourceId, "the same session went on")
	require.Empty(t, st.State.Error)
	wstop()
	require.Empty(t, <-sawError, "the ingress was never in ERROR")
	logs := tr.Tail(1 << 20)
	if ownRejoin {
		require.False(t, strings.Contains(logs, "reconnected to LiveKit"), "the SDK did not resume by itself")
	}
	for _, line := range strings.Split(logs, "\n") {
		for _, s := range []string{"left the room", "lost the LiveKit connection", "joining again failed", "joined the room again"} {
			if strings.Contains(line, s) {
				t.Log(line)
			}
		}
	}
}

// waitEitherLog waits until Tributary's log has a line containing one of
// the strings and returns its index.
func waitEitherLog(ctx context.Context, t *testing.T, tr *tributary, options ...string) int {
	t.Helper()
	for {
		logs := tr.Tail(1 << 20)
		for i, o := range options {
			if strings.Contains(logs, o) {
				return i
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no log line with any of %q", options)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitProcessLog waits until the recent output of p contains s.
func waitProcessLog(ctx context.Context, t *testing.T, p *e2e.Process, s string) {
	t.Helper()
	for !strings.Contains(p.Tail(1<<20), s) {
		select {
		case <-ctx.Done():
			t.Fatalf("%s never logged %q: %v", p.Name, s, context.Cause(ctx))
		case <-p.Done():
			t.Fatalf("%s exited before logging %q", p.Name, s)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
