package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// pageEvent is a progress report of the publisher page.
type pageEvent struct {
	Ev   string `json:"ev"`
	Data string `json:"data"`
}

// whipPage is the test's web server for testdata/whip.html: it serves the
// page, collects its reports and hands it commands.
type whipPage struct {
	srv      *httptest.Server
	events   chan pageEvent
	commands chan string
	browser  *e2e.Process
}

// startWHIPPage serves the page and opens it in headless Chromium,
// publishing to whipURL (another origin: the WHIP endpoint's CORS is
// exercised). query adds page parameters (simulcast, codec);
// chromiumArgs are added to the browser's command line.
func startWHIPPage(t *testing.T, whipURL string, query url.Values, chromiumArgs ...string) *whipPage {
	t.Helper()
	p := &whipPage{events: make(chan pageEvent, 256), commands: make(chan string, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whip.html", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "testdata/whip.html")
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var ev pageEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err == nil {
			select {
			case p.events <- ev:
			default: // the test stopped listening
			}
		}
	})
	mux.HandleFunc("GET /command", func(w http.ResponseWriter, r *http.Request) {
		select {
		case c := <-p.commands:
			_, _ = w.Write([]byte(c))
		case <-r.Context().Done():
		}
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	if query == nil {
		query = url.Values{}
	}
	query.Set("whip", whipURL)
	p.browser = e2e.StartChromium(t, p.srv.URL+"/whip.html?"+query.Encode(), chromiumArgs...)
	return p
}

// wait returns the data of the next event named ev; an "error" event or
// the end of ctx fails the test.
func (p *whipPage) wait(ctx context.Context, t *testing.T, ev string) string {
	t.Helper()
	for {
		select {
		case e := <-p.events:
			t.Logf("page: %s %s", e.Ev, e.Data)
			if e.Ev == "error" {
				t.Fatalf("the WHIP page failed: %s", e.Data)
			}
			if e.Ev == ev {
				return e.Data
			}
		case <-ctx.Done():
			t.Fatalf("the WHIP page did not report %q: %v", ev, context.Cause(ctx))
		}
	}
}

func createWHIP(ctx context.Context, t *testing.T, c *lksdk.IngressClient, roomName, identity string, transcode bool) *livekit.IngressInfo {
	t.Helper()
	req := &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_WHIP_INPUT, Name: "browser", RoomName: roomName,
		ParticipantIdentity: identity, ParticipantName: "Browser",
	}
	if transcode {
		req.EnableTranscoding = &transcode
	}
	info, err := c.CreateIngress(ctx, req)
	require.NoError(t, err)
	return info
}

func videoTrack(p e2e.Participant) *livekit.TrackInfo {
	for _, ti := range p.Tracks {
		if ti.Type == livekit.TrackType_VIDEO {
			return ti
		}
	}
	return nil
}

// TestWHIPPassthrough publishes VP8 and Opus from headless Chromium (fake
// camera at 1280x720) with plain fetch WHIP from another origin, and
// checks that the room gets both forwarded unchanged (VP8 at the
// browser's size, one layer, and Opus), that the ingress goes BUFFERING →
// PUBLISHING with the input described, and INACTIVE once the page DELETEs
// its resource, and that the participant leaves.
func TestWHIPPassthrough(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	info := createWHIP(ctx, t, c, "whip-room", "browser-cam", false)
	require.Equal(t, "https://ingest.test/w", info.Url)
	sub := e2e.NewSubscriber(t, lk, "whip-room")
	page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), nil)
	bctx, stop := page.browser.WithExit(ctx)
	defer stop()

	posted := page.wait(bctx, t, "posted")
	require.Regexp(t, fmt.Sprintf(`^http://127\.0\.0\.1:%d/w/%s/WH_\w{12} "\w+"$`, tr.WHIPPort, info.StreamKey), posted)

	st := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Regexp(t, `^WH_\w{12}$`, st.State.ResourceId)
	require.Contains(t, posted, st.State.ResourceId)
	require.NotEmpty(t, st.State.RoomId)
	require.Equal(t, "video/VP8", st.State.Video.GetMimeType())
	require.Equal(t, "audio/opus", st.State.Audio.GetMimeType())

	p, err := sub.WaitParticipant(bctx, func(p e2e.Participant) bool {
		return p.Identity == "browser-cam" && p.Connected && len(p.Tracks) == 2
	})
	require.NoError(t, err)
	require.Equal(t, livekit.ParticipantInfo_INGRESS, p.Kind)
	require.Equal(t, st.State.ResourceId, p.Attributes[livekit.AttrIngressResourceID])
	vti := videoTrack(p)
	require.NotNil(t, vti)
	require.False(t, vti.Simulcast, "one encoding is not simulcast")

	vs, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
		// The frame rate rises with the browser's bandwidth estimate.
		return s.TrackSID == vti.Sid && s.Width > 0 && s.Window >= 2*time.Second && s.FPS >= 15
	})
	require.NoError(t, err)
	t.Logf("video received: %v", vs)
	require.Equal(t, "video/VP8", vs.MimeType)
	require.Equal(t, 1280, vs.Width, "the browser's own frames, not rescaled")
	require.Equal(t, 720, vs.Height)
	as, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "browser-cam" && s.MimeType == "audio/opus" && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.InDelta(t, 50, as.FPS, 8, "Opus packets of 20 ms")

	st = waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, uint32(1280), st.State.Video.GetWidth(), "size parsed from the forwarded VP8")
	require.Equal(t, uint32(720), st.State.Video.GetHeight())

	page.commands <- "delete"
	require.Equal(t, "200", page.wait(bctx, t, "deleted"))
	end := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.State.Error)
	require.NotZero(t, end.State.EndedAt)
	_, err = sub.WaitParticipant(bctx, func(p e2e.Participant) bool { return p.Identity == "browser-cam" && !p.Connected })
	require.NoError(t, err, "the participant leaves")
}

// maxLayerSwitch bounds the time from a subscriber's quality request to
// the first picture of that layer (measured: 0.3 to 0.6 s).
const maxLayerSwitch = time.Second

// TestWHIPSimulcastSwitch publishes three VP8 encodings (rid f/h/q at
// 1/2/4 of 1280x720) from Chromium and checks that they become the HIGH,
// MEDIUM and LOW layers of one simulcast track, with their sizes, and that
// a subscriber asking for each quality in turn receives that layer's
// resolution (parsed from the bitstream) within a bounded time.
func TestWHIPSimulcastSwitch(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	info := createWHIP(ctx, t, c, "whip-simulcast", "browser-sim", false)
	sub := e2e.NewSubscriber(t, lk, "whip-simulcast")
	page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), url.Values{"simulcast": {"1"}})
	bctx, stop := page.browser.WithExit(ctx)
	defer stop()
	page.wait(bctx, t, "posted")

	p, err := sub.WaitParticipant(bctx, func(p e2e.Participant) bool {
		return p.Identity == "browser-sim" && p.Connected && len(p.Tracks) == 2
	})
	require.NoError(t, err)
	vti := videoTrack(p)
	require.NotNil(t, vti)
	require.True(t, vti.Simulcast)
	require.Len(t, vti.Layers, 3)
	var layers []string
	for _, l := range vti.Layers {
		layers = append(layers, fmt.Sprintf("%s:%dx%d", l.Quality, l.Width, l.Height))
	}
	t.Logf("advertised layers: %s", strings.Join(layers, " "))
	for _, l := range vti.Layers {
		switch l.Quality {
		case livekit.VideoQuality_HIGH:
			require.Equal(t, uint32(1280), l.Width)
		case livekit.VideoQuality_MEDIUM:
			require.Equal(t, uint32(640), l.Width)
		case livekit.VideoQuality_LOW:
			require.Equal(t, uint32(320), l.Width)
		}
	}

	// The top layer starts once the browser's bandwidth estimate allows
	// it: the first HIGH waits for that, without a switch-time bound.
	_, err = sub.WaitTrack(bctx, func(s e2e.TrackStats) bool { return s.TrackSID == vti.Sid })
	require.NoError(t, err, "the video is subscribed")
	require.NoError(t, sub.SetVideoQuality(vti.Sid, livekit.VideoQuality_HIGH))
	_, err = sub.WaitTrack(bctx, func(s e2e.TrackStats) bool { return s.TrackSID == vti.Sid && s.Width == 1280 })
	require.NoError(t, err, "the top layer arrives")
	for _, q := range []struct {
		quality livekit.VideoQuality
		w, h    int
	}{
		{livekit.VideoQuality_LOW, 320, 180},
		{livekit.VideoQuality_HIGH, 1280, 720},
		{livekit.VideoQuality_MEDIUM, 640, 360},
		{livekit.VideoQuality_LOW, 320, 180},
		{livekit.VideoQuality_HIGH, 1280, 720},
	} {
		start := time.Now()
		require.NoError(t, sub.SetVideoQuality(vti.Sid, q.quality))
		st, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
			return s.TrackSID == vti.Sid && s.Width == q.w && s.Height == q.h
		})
		require.NoError(t, err, "quality %s", q.quality)
		took := time.Since(start)
		t.Logf("quality %s: %dx%d after %v", q.quality, st.Width, st.Height, took.Round(time.Millisecond))
		require.Equal(t, "video/VP8", st.MimeType)
		require.Less(t, took, maxLayerSwitch, "switch to %s", q.quality)
	}
	page.commands <- "delete"
	require.Equal(t, "200", page.wait(bctx, t, "deleted"))
	waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
}

// TestWHIPTranscode publishes VP8 from Chromium to an ingress with
// enable_transcoding: the room gets the default preset's three H.264
// layers (from the transcoder) and Opus.
func TestWHIPTranscode(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	info := createWHIP(ctx, t, c, "whip-transcode", "browser-tc", true)
	sub := e2e.NewSubscriber(t, lk, "whip-transcode")
	page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), nil)
	bctx, stop := page.browser.WithExit(ctx)
	defer stop()
	page.wait(bctx, t, "posted")

	st := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, "video/VP8", st.State.Video.GetMimeType())
	p, err := sub.WaitParticipant(bctx, func(p e2e.Participant) bool {
		return p.Identity == "browser-tc" && p.Connected && len(p.Tracks) == 2
	})
	require.NoError(t, err)
	vti := videoTrack(p)
	require.NotNil(t, vti)
	require.True(t, vti.Simulcast)
	require.Len(t, vti.Layers, 3)
	_, err = sub.WaitTrack(bctx, func(s e2e.TrackStats) bool { return s.TrackSID == vti.Sid })
	require.NoError(t, err, "the video is subscribed")
	for _, q := range []struct {
		quality livekit.VideoQuality
		w, h    int
	}{{livekit.VideoQuality_HIGH, 1280, 720}, {livekit.VideoQuality_LOW, 320, 180}} {
		require.NoError(t, sub.SetVideoQuality(vti.Sid, q.quality))
		vs, err := sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
			return s.TrackSID == vti.Sid && s.Width == q.w && s.Height == q.h
		})
		require.NoError(t, err, "quality %s", q.quality)
		require.Equal(t, "video/H264", vs.MimeType)
	}
	_, err = sub.WaitTrack(bctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "browser-tc" && s.MimeType == "audio/opus" && s.Packets > 50
	})
	require.NoError(t, err)
	page.commands <- "delete"
	require.Equal(t, "200", page.wait(bctx, t, "deleted"))
	waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
}

// TestWHIPTranscodeCodecs publishes each other video codec a browser
// sends — H.264, VP9 and AV1 (Chromium numbers AV1 45, below the 96–127
// gortsplib's formats expect) — to an ingress with enable_transcoding:
// the shared RTP depacketizer (ingest/rtpdepack) gives the transcoder
// frames it decodes, and the room gets the H.264 top layer at the
// camera's size, at 5 fps at least (AV1 is slow to encode in
// Chromium on a loaded machine).
func TestWHIPTranscodeCodecs(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	for _, codec := range []string{"H264", "VP9", "AV1"} {
		t.Run(codec, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			room := "whip-tc-" + strings.ToLower(codec)
			info := createWHIP(ctx, t, c, room, "browser-"+strings.ToLower(codec), true)
			sub := e2e.NewSubscriber(t, lk, room)
			page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey), url.Values{"codec": {codec}})
			bctx, stop := page.browser.WithExit(ctx)
			defer stop()
			page.wait(bctx, t, "posted")
			st := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			require.Equal(t, "video/"+codec, st.State.Video.GetMimeType())
			watchTranscodedTop(bctx, t, sub, "browser-"+strings.ToLower(codec))
			page.commands <- "delete"
			require.Equal(t, "200", page.wait(bctx, t, "deleted"))
			waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
		})
	}
}

// TestWHIPTranscodeVP9SVC: a browser sending VP9 with spatial layers
// (scalabilityMode L3T3_KEY: 320x180, 640x360 and 1280x720 in one
// stream, each picture a frame per layer) to an ingress with
// enable_transcoding: the transcoder decodes every layer of a picture
// and encodes the full one — the source it plans its layers for reaches
// the camera's 1280x720 (decoding the lowest layer alone, as before,
// gave 320x180 pictures scaled up) — and the room gets the H.264 top
// layer at 1280x720.
func TestWHIPTranscodeVP9SVC(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, LogLevel: "info"})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	info := createWHIP(ctx, t, c, "whip-vp9-svc", "browser-svc", true)
	sub := e2e.NewSubscriber(t, lk, "whip-vp9-svc")
	page := startWHIPPage(t, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey),
		url.Values{"codec": {"VP9"}, "svc": {"L3T3_KEY"}})
	bctx, stop := page.browser.WithExit(ctx)
	defer stop()
	answer := page.wait(bctx, t, "answer")
	require.Contains(t, answer, "VP9")
	page.wait(bctx, t, "posted")
	st := waitState(bctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, "video/VP9", st.State.Video.GetMimeType())

	// The browser adds its upper layers as its bandwidth estimate grows.
	for !strings.Contains(logOf(t, tr), `"source": "1280x720"`) {
		require.NoError(t, bctx.Err(), "the transcoder never planned its layers for the full 1280x720 picture; log:\n%s", planLines(logOf(t, tr)))
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("planned:\n%s", planLines(logOf(t, tr)))

	watchTranscodedTop(bctx, t, sub, "browser-svc")
	t.Logf("planned at the end:\n%s", planLines(logOf(t, tr)))
	got, err := c.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: info.IngressId})
	require.NoError(t, err)
	t.Logf("input video state: %v", got.Items[0].State.Video)
	page.commands <- "delete"
	require.Equal(t, "200", page.wait(bctx, t, "deleted"))
}

// watchTranscodedTop waits for the participant identity to publish its
// audio and video, watches the video's HIGH layer and checks it: H.264 at
// 1280x720, at 5 fps at least over 2 s.
func watchTranscodedTop(ctx context.Context, t *testing.T, sub *e2e.Subscriber, identity string) {
	t.Helper()
	p, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool {
		return p.Identity == identity && p.Connected && len(p.Tracks) == 2
	})
	require.NoError(t, err)
	vti := videoTrack(p)
	require.NotNil(t, vti)
	_, err = sub.WaitTrack(ctx, func(s e2e.TrackStats) bool { return s.TrackSID == vti.Sid })
	require.NoError(t, err, "the video is subscribed")
	require.NoError(t, sub.SetVideoQuality(vti.Sid, livekit.VideoQuality_HIGH))
	vs, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
		return s.TrackSID == vti.Sid && s.Width == 1280 && s.Height == 720 && s.Window >= 2*time.Second && s.FPS >= 5
	})
	require.NoError(t, err, "the transcoded top layer")
	t.Logf("video received: %v", vs)
	require.Equal(t, "video/H264", vs.MimeType)
}

// planLines returns the transcoder's layer-planning lines of a log.
func planLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "layers planned") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
