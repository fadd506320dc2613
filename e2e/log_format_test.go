package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// logSessions runs, on tr, a WHIP session from Chromium (pion's stack and
// the LiveKit SDK at work) and, with transcode, an RTMP session transcoded
// in a child process (libav and libx264 at work), waits for both to reach
// the room and end, stops tr, and returns its whole output (stdout and
// stderr) without the harness's command line, and the sessions' records.
func logSessions(t *testing.T, lk *e2e.LiveKit, tr *tributary, transcode bool) ([]string, []*livekit.IngressInfo) {
	t.Helper()
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sub := e2e.NewSubscriber(t, lk, "log-room")

	whip := createWHIP(ctx, t, c, "log-room", "log-whip", false)
	page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, whip.StreamKey), smallCamera)
	bctx, stop := page.browser.WithExit(ctx)
	defer stop()
	page.wait(bctx, t, "posted")
	_, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "log-whip" && s.MimeType == "video/VP8" && s.Width > 0
	})
	require.NoError(t, err)
	infos := []*livekit.IngressInfo{waitState(bctx, t, c, whip.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)}

	if transcode {
		rtmp, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
			InputType: livekit.IngressInput_RTMP_INPUT, Name: "log", RoomName: "log-room", ParticipantIdentity: "log-rtmp",
		})
		require.NoError(t, err)
		ff := ffmpegRTMP(t, fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, rtmp.StreamKey), 8,
			"-vf", "scale=320:180", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p")
		fctx, fstop := ff.WithExit(ctx)
		_, err = sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
			return s.ParticipantIdentity == "log-rtmp" && s.MimeType == "video/H264" && s.Width > 0
		})
		require.NoError(t, err)
		infos = append(infos, waitState(fctx, t, c, rtmp.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING))
		fstop()
		waitState(ctx, t, c, rtmp.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	}
	page.commands <- "delete"
	page.wait(bctx, t, "deleted")
	waitState(ctx, t, c, whip.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	tr.stop(t)

	b, err := os.ReadFile(tr.LogPath)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[0], "$ "), "the harness's command line comes first")
	return lines[1:], infos
}

// sessionFields are the fields every line of a session carries, besides
// the node ID every line carries.
var sessionFields = []string{"ingressID", "resourceID", "room", "participant"}

// TestLogFormatJSON: with logging.json: true every line Tributary writes
// to stdout and stderr, its transcoding child's included, is a JSON
// object with a level and a message: what pion (the WHIP sessions'
// WebRTC stack, here at debug), the LiveKit SDK ("published track"),
// libav/libx264 and the standard library print goes through the same
// logger. Every line carries the node ID, and the lines of a session
// (its WHIP connection's, pion's, the SDK's, the child's) carry its
// ingress, resource, room and participant.
func TestLogFormatJSON(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, LogJSON: true,
		LogExtra: "  component_levels:\n    pion: debug\n",
		Extra:    "node_id: log-node\nisolate_transcoding: true\n"})
	lines, infos := logSessions(t, lk, tr, true)

	byResource := map[string]*livekit.IngressInfo{}
	for _, info := range infos {
		byResource[info.State.ResourceId] = info
	}
	var pionWHIP, published, child, libav int
	for i, l := range lines {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &e), "line %d is not JSON: %s", i+2, l)
		require.NotEmpty(t, e["level"], l)
		require.NotEmpty(t, e["msg"], l)
		require.Equal(t, "log-node", e["nodeID"], "every line carries the node ID: %s", l)
		logger, _ := e["logger"].(string)
		if rid, ok := e["resourceID"].(string); ok && byResource[rid] != nil {
			info := byResource[rid]
			require.Equal(t, info.IngressId, e["ingressID"], l)
			require.Equal(t, "log-room", e["room"], l)
			require.Equal(t, info.ParticipantIdentity, e["participant"], l)
			if strings.Contains(logger, "pion") && info.InputType == livekit.IngressInput_WHIP_INPUT {
				pionWHIP++
			}
			if e["msg"] == "published track" {
				published++
			}
			if e["process"] == "transcode-child" {
				child++
			}
		}
		if strings.Contains(logger, "libav") {
			libav++
		}
	}
	t.Logf("%d lines: %d of pion in the WHIP session, %d \"published track\", %d of the transcoding child, %d of libav", len(lines), pionWHIP, published, child, libav)
	require.NotZero(t, pionWHIP, "pion's lines go through the session's logger")
	require.GreaterOrEqual(t, published, 3, "the SDK's lines carry the session's fields (two WHIP tracks, and the RTMP session's)")
	require.NotZero(t, child, "the transcoding child logs in the same format with the session's fields")
	require.NotZero(t, libav, "libav's messages go through the logger")
}

// consoleLine is the development console format: time, level, logger,
// caller, message and the fields as JSON.
var consoleLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-Z][\d:]*\t(DEBUG|INFO|WARN|ERROR|DPANIC|PANIC|FATAL)\t`)

// TestLogFormatConsole: without logging.json every line is in the
// console format (a stack trace may follow an ERROR line); the stdr
// format the LiveKit SDK used to print in ("2026/12/06 … "level"=0
// "msg"="published track"") is gone, and the session's lines carry its
// fields.
func TestLogFormatConsole(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: "node_id: log-node\n"})
	lines, infos := logSessions(t, lk, tr, false)
	var inTrace bool
	var published int
	for i, l := range lines {
		if m := consoleLine.FindStringSubmatch(l); m != nil {
			inTrace = m[1] != "DEBUG" && m[1] != "INFO" && m[1] != "WARN"
			require.Contains(t, l, `"nodeID": "log-node"`, l)
			if strings.Contains(l, "\tpublished track\t") {
				published++
				require.Contains(t, l, fmt.Sprintf(`"resourceID": "%s"`, infos[0].State.ResourceId), l)
				require.Contains(t, l, `"room": "log-room"`, l)
				require.Contains(t, l, `"participant": "log-whip"`, l)
			}
			continue
		}
		require.True(t, inTrace, "line %d is not in the console format: %q", i+2, l)
	}
	require.Equal(t, 2, published, "video and audio")
}
