package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// speakingRuns returns, from a subscriber's active-speaker updates, the
// alternation of identity's state: true while it is listed as speaking.
// Consecutive equal states are merged.
func speakingRuns(changes []e2e.SpeakerChange, identity string) []bool {
	var runs []bool
	for _, c := range changes {
		_, on := c.Levels[identity]
		if len(runs) == 0 || runs[len(runs)-1] != on {
			runs = append(runs, on)
		}
	}
	return runs
}

// TestRTMPActiveSpeaker pushes audio that alternates 3 s of a tone and 3 s
// of silence through a transcoding RTMP ingress: the Opus packets carry
// the measured audio level (RFC 6464), so LiveKit lists the ingress
// participant as an active speaker during the tone and drops it during
// the silence, as it does for a browser's microphone.
func TestRTMPActiveSpeaker(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	info := createRTMP(ctx, t, c, "speaker-room", "talker", true)
	sub := e2e.NewSubscriber(t, lk, "speaker-room")
	tone := "if(lt(mod(t\\,6)\\,3)\\,0.4*sin(2*PI*300*t)\\,0)"
	ff := e2e.StartProcess(t, "ffmpeg", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15",
		"-f", "lavfi", "-i", "aevalsrc="+tone+"|"+tone+":s=48000", "-t", "25",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "30", "-c:a", "aac", "-f", "flv",
		fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey))
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)

	deadline := time.Now().Add(20 * time.Second)
	for {
		runs := speakingRuns(sub.SpeakerChanges(), "talker")
		// speaking, silent, speaking again (the first update may be either).
		if n := len(runs); n >= 3 && runs[n-1] && !runs[n-2] && runs[n-3] {
			break
		}
		require.True(t, time.Now().Before(deadline), "active-speaker states of the ingress: %v (want speaking, silent, speaking)", runs)
		time.Sleep(100 * time.Millisecond)
	}
	var loudest float32
	for _, ch := range sub.SpeakerChanges() {
		loudest = max(loudest, ch.Levels["talker"])
	}
	t.Logf("loudest level LiveKit reported: %.2f", loudest)
	require.Greater(t, loudest, float32(0.1))
}

// TestWHIPActiveSpeaker: a browser's audio forwarded over WHIP keeps the
// audio level the browser measured (its RFC 6464 header extension, under
// the ID LiveKit negotiated), so LiveKit lists the ingress participant as
// speaking while the browser's (fake) microphone plays a tone and not
// during its silences.
func TestWHIPActiveSpeaker(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	info := createWHIP(ctx, t, c, "whip-speaker", "browser-mic", false)
	sub := e2e.NewSubscriber(t, lk, "whip-speaker")
	// The fake microphone loops a file: 3 s of a tone, 3 s of silence.
	wav := filepath.Join(t.TempDir(), "mic.wav")
	tone := "if(lt(t\\,3)\\,0.4*sin(2*PI*300*t)\\,0)"
	makeMedia(t, wav, "-f", "lavfi", "-i", "aevalsrc="+tone+"|"+tone+":s=48000", "-t", "6", "-c:a", "pcm_s16le")
	page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), nil,
		"--use-file-for-fake-audio-capture="+wav)
	bctx, stop := page.browser.WithExit(ctx)
	defer stop()
	page.wait(bctx, t, "posted")
	waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	deadline := time.Now().Add(20 * time.Second)
	for {
		runs := speakingRuns(sub.SpeakerChanges(), "browser-mic")
		if n := len(runs); n >= 3 && runs[n-1] && !runs[n-2] && runs[n-3] {
			break
		}
		require.True(t, time.Now().Before(deadline), "active-speaker states of the browser's participant: %v (want speaking, silent, speaking)", runs)
		time.Sleep(100 * time.Millisecond)
	}
}
