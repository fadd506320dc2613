package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// balancer is a TCP proxy in front of several workers' WHIP ports: the
// one address a load balancer gives clients. Connections go to the
// backends in turn; to (used before a request) says which backend the
// next connection reaches, so that the test knows where each request
// lands.
type balancer struct {
	ln       net.Listener
	backends []string
	next     atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func startBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &balancer{ln: ln, backends: backends, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			_ = c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *balancer) URL() string { return "http://" + b.ln.Addr().String() }

// to makes the next connection go to backend i.
func (b *balancer) to(i int) { b.next.Store(int64(i)) }

func (b *balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *balancer) serve() {
	defer b.wg.Done()
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		target := b.backends[int(b.next.Add(1)-1)%len(b.backends)]
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer in.Close()
			out, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				return
			}
			defer out.Close()
			b.track(in)
			b.track(out)
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
			go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
			<-done
			_ = in.Close()
			_ = out.Close()
			<-done
			b.mu.Lock()
			delete(b.conns, in)
			delete(b.conns, out)
			b.mu.Unlock()
		}()
	}
}

// oneShot sends every request on a new connection, as clients behind a
// balancer may: consecutive requests of one client reach different
// workers.
var oneShot = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func whipDo(t *testing.T, method, url string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := oneShot.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

// whipClient is a pion WHIP client publishing VP8 (from an IVF file made
// by ffmpeg, looped at 30 fps) with its own ICE restart.
type whipClient struct {
	pc     *webrtc.PeerConnection
	video  *webrtc.TrackLocalStaticSample
	answer string // the current remote description
	states chan webrtc.PeerConnectionState
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newWHIPClient(t *testing.T) *whipClient {
	t.Helper()
	ivf := filepath.Join(t.TempDir(), "video.ivf")
	makeMedia(t, ivf, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "4",
		"-c:v", "libvpx", "-deadline", "realtime", "-g", "30", "-b:v", "600k", "-f", "ivf")
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterDefaultCodecs())
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	c := &whipClient{pc: pc, states: make(chan webrtc.PeerConnectionState, 64), stop: make(chan struct{})}
	t.Cleanup(func() {
		close(c.stop)
		_ = pc.Close()
		c.wg.Wait()
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		t.Logf("WHIP client: %s", s)
		select {
		case c.states <- s:
		default:
		}
	})
	c.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "whip")
	require.NoError(t, err)
	_, err = pc.AddTransceiverFromTrack(c.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	require.NoError(t, err)
	frames := testutil.IVFFile(t, ivf)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			_ = c.video.WriteSample(media.Sample{Data: frames[i%len(frames)], Duration: time.Second / 30})
		}
	}()
	return c
}

// readUntilEOF returns what next returns until io.EOF; nil is left out.
func readUntilEOF(t *testing.T, next func() ([]byte, error)) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		b, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if b != nil {
			out = append(out, b)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// offer creates the offer with every candidate gathered.
func (c *whipClient) offer(t *testing.T, restart bool) string {
	t.Helper()
	o, err := c.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(c.pc)
	require.NoError(t, c.pc.SetLocalDescription(o))
	<-gathered
	return c.pc.LocalDescription().SDP
}

func (c *whipClient) setAnswer(t *testing.T, answer string) {
	t.Helper()
	require.NoError(t, c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	c.answer = answer
}

// waitConnected waits for the next change to the connected state (the
// first connection, or the one after an ICE restart).
func (c *whipClient) waitConnected(ctx context.Context, t *testing.T) {
	t.Helper()
	for {
		select {
		case s := <-c.states:
			if s == webrtc.PeerConnectionStateConnected {
				return
			}
		case <-ctx.Done():
			t.Fatalf("the WHIP client did not connect; ICE state %s", c.pc.ICEConnectionState())
		}
	}
}

// iceFragment is the ICE part of a local description as a PATCH body:
// credentials, then each section's mid and candidates.
func iceFragment(t *testing.T, local string) string {
	t.Helper()
	var sd sdp.SessionDescription
	require.NoError(t, sd.UnmarshalString(local))
	var b strings.Builder
	ufrag, _ := sd.MediaDescriptions[0].Attribute("ice-ufrag")
	pwd, _ := sd.MediaDescriptions[0].Attribute("ice-pwd")
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd)
	for _, md := range sd.MediaDescriptions {
		mid, _ := md.Attribute("mid")
		fmt.Fprintf(&b, "m=%s 9 %s %s\r\na=mid:%s\r\n", md.MediaName.Media, strings.Join(md.MediaName.Protos, "/"),
			strings.Join(md.MediaName.Formats, " "), mid)
		for _, a := range md.Attributes {
			if a.Key == "candidate" {
				fmt.Fprintf(&b, "a=candidate:%s\r\n", a.Value)
			}
		}
	}
	return b.String()
}

// restartAnswer applies an ICE restart's answer fragment to the previous
// answer: the server's new credentials and candidates.
func restartAnswer(t *testing.T, prev, frag string) string {
	t.Helper()
	var ufrag, pwd, mid string
	cands := map[string][]string{}
	for _, l := range strings.Split(strings.ReplaceAll(frag, "\r\n", "\n"), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(l), "a="), ":")
		switch k {
		case "ice-ufrag":
			ufrag = v
		case "ice-pwd":
			pwd = v
		case "mid":
			mid = v
		case "candidate":
			cands[mid] = append(cands[mid], v)
		}
	}
	require.NotEmpty(t, ufrag, "the answer fragment has the new ice-ufrag: %q", frag)
	require.NotEmpty(t, pwd, "the answer fragment has the new ice-pwd: %q", frag)
	var sd sdp.SessionDescription
	require.NoError(t, sd.UnmarshalString(prev))
	sd.Origin.SessionVersion++
	fix := func(attrs []sdp.Attribute, mid string, first bool) []sdp.Attribute {
		var out []sdp.Attribute
		for _, a := range attrs {
			switch a.Key {
			case "candidate", "end-of-candidates":
				continue
			case "ice-ufrag":
				a.Value = ufrag
			case "ice-pwd":
				a.Value = pwd
			}
			out = append(out, a)
		}
		if mid == "-" {
			return out
		}
		list := cands[mid]
		if first {
			list = append(list, cands[""]...) // candidates before any mid
		}
		for _, c := range list {
			out = append(out, sdp.Attribute{Key: "candidate", Value: c})
		}
		return out
	}
	sd.Attributes = fix(sd.Attributes, "-", false)
	for i, md := range sd.MediaDescriptions {
		m, _ := md.Attribute("mid")
		md.Attributes = fix(md.Attributes, m, i == 0)
	}
	b, err := sd.Marshal()
	require.NoError(t, err)
	return string(b)
}

// publishWHIP posts the client's offer through the balancer to worker i
// and applies the answer; it returns the resource URL and its ETag.
func publishWHIP(t *testing.T, lb *balancer, i int, key string, c *whipClient) (string, string) {
	t.Helper()
	lb.to(i)
	res, answer := whipDo(t, http.MethodPost, lb.URL()+"/w/"+key, map[string]string{"Content-Type": "application/sdp"}, c.offer(t, false))
	require.Equal(t, http.StatusCreated, res.StatusCode, answer)
	loc := res.Header.Get("Location")
	require.Regexp(t, `^/w/`+key+`/WH_\w{12}$`, loc)
	c.setAnswer(t, answer)
	return lb.URL() + loc, res.Header.Get("ETag")
}

// restartVia sends the client's ICE restart through the balancer to
// worker i and applies the answer; it returns the new ETag.
func restartVia(t *testing.T, lb *balancer, i int, resource string, c *whipClient) string {
	t.Helper()
	frag := iceFragment(t, c.offer(t, true))
	lb.to(i)
	res, body := whipDo(t, http.MethodPatch, resource, map[string]string{
		"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": "*"}, frag)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Equal(t, "application/trickle-ice-sdpfrag", res.Header.Get("Content-Type"))
	t.Logf("ICE restart: sent %q, answer %q (ETag %s)", frag, body, res.Header.Get("ETag"))
	c.setAnswer(t, restartAnswer(t, c.answer, body))
	return res.Header.Get("ETag")
}

// TestClusterWHIPResourceRouting runs two workers behind one address (a
// round-robin TCP balancer), as a WHIP deployment of several workers
// does. The offer reaches worker A, which holds the WebRTC session; the
// client's later requests reach worker B, which hands them to A over
// psrpc (IngressHandler.ICERestartWHIPResource and DeleteWHIPResource on
// the resource ID): a trickle fragment (204), a stale If-Match (412), an
// ICE restart whose answer the client applies — the stream keeps
// arriving in the room past the ICE failure timeout, so the restart took
// on A — and the DELETE, after which the ingress is INACTIVE without an
// error and the participant leaves; a DELETE of the ended resource
// answers 404.
func TestClusterWHIPResourceRouting(t *testing.T) {
	env := startClusterEnv(t)
	cheap := "cpu_cost:\n  whip_cpu_cost: 0.01\n  whip_bypass_transcoding_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n"
	a := env.startWorkerWHIP(t, "worker-a", cheap, true)
	b := env.startWorkerWHIP(t, "worker-b", cheap, true)
	lb := startBalancer(t, fmt.Sprintf("127.0.0.1:%d", a.WHIPPort), fmt.Sprintf("127.0.0.1:%d", b.WHIPPort))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	info := createWHIP(ctx, t, env.ingress, "whip-cluster", "pion-cam", false)
	sub := e2e.NewSubscriber(t, env.lk, "whip-cluster")
	c := newWHIPClient(t)
	resource, etag := publishWHIP(t, lb, 0, info.StreamKey, c)
	c.waitConnected(ctx, t)
	st := waitState(ctx, t, env.ingress, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.True(t, strings.HasSuffix(resource, "/"+st.State.ResourceId))
	require.Contains(t, a.Tail(1<<20), "WHIP session started", "worker A holds the session")
	_, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "pion-cam" && s.Width == 640 && s.Window >= time.Second
	})
	require.NoError(t, err)

	// A trickle fragment through worker B.
	lb.to(1)
	frag := iceFragment(t, c.pc.LocalDescription().SDP)
	res, body := whipDo(t, http.MethodPatch, resource, map[string]string{
		"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": etag}, frag)
	require.Equal(t, http.StatusNoContent, res.StatusCode, body)
	require.Contains(t, b.Tail(1<<20), st.State.ResourceId, "worker B handled a request of the resource")

	// A stale ETag, through worker B, is refused as A refuses it.
	lb.to(1)
	res, body = whipDo(t, http.MethodPatch, resource, map[string]string{
		"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": `"stale"`}, frag)
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode, body)
	require.Contains(t, body, "is not the current ETag of the session")

	// An ICE restart through worker B.
	newETag := restartVia(t, lb, 1, resource, c)
	require.NotEmpty(t, newETag)
	require.NotEqual(t, etag, newETag)
	restarted := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	c.waitConnected(rctx, t)
	rcancel()
	require.Contains(t, a.Tail(1<<20), "ICE restart", "worker A restarted ICE")
	// The old credentials are gone on A: had the client not taken the new
	// ones, ICE would fail within 10 s and the session end. The stream
	// still arriving 12 s later shows the restart took.
	_, err = sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "pion-cam" && s.LastPacket.After(restarted.Add(12*time.Second))
	})
	require.NoError(t, err, "the stream goes on after the ICE restart")
	cur, err := env.ingress.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: info.IngressId})
	require.NoError(t, err)
	require.Equal(t, livekit.IngressState_ENDPOINT_PUBLISHING, cur.Items[0].State.GetStatus())
	require.Equal(t, st.State.ResourceId, cur.Items[0].State.GetResourceId(), "the same session")

	// The DELETE through worker B ends the session on A.
	lb.to(1)
	res, body = whipDo(t, http.MethodDelete, resource, nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	end := waitState(ctx, t, env.ingress, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.State.Error)
	_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "pion-cam" && !p.Connected })
	require.NoError(t, err, "the participant leaves")
	require.Contains(t, b.Tail(1<<20), "WHIP client deleted a resource held by another server")

	// Nobody holds the ended resource any more.
	for i := range 2 {
		lb.to(i)
		res, body = whipDo(t, http.MethodDelete, resource, nil, "")
		require.Equal(t, http.StatusNotFound, res.StatusCode, "worker %d: %s", i, body)
	}
}

// TestClusterWHIPProxy: with whip_proxy_enabled, a WHIP ingress without
// transcoding is proxied as the official worker does it: the worker
// forwards the offer to livekit-server's /whip/v1 as the ingress
// participant (X-Livekit-Ingress), livekit-server terminates WebRTC and
// reports the participant over psrpc (WHIPRTCConnectionNotify), which
// fills the ingress state's input description. The client's PATCH (ICE
// restart) and DELETE reach the other worker behind the balancer and go
// to livekit-server through the worker that owns the session; the DELETE
// ends the session INACTIVE and the participant leaves.
func TestClusterWHIPProxy(t *testing.T) {
	env := startClusterEnv(t)
	cheap := "whip_proxy_enabled: true\ncpu_cost:\n  whip_cpu_cost: 0.01\n  whip_bypass_transcoding_cpu_cost: 0.01\n  min_idle_ratio: 0.001\n"
	a := env.startWorkerWHIP(t, "worker-a", cheap, true)
	b := env.startWorkerWHIP(t, "worker-b", cheap, true)
	lb := startBalancer(t, fmt.Sprintf("127.0.0.1:%d", a.WHIPPort), fmt.Sprintf("127.0.0.1:%d", b.WHIPPort))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	require.NotContains(t, a.Tail(1<<20), "whip_proxy_enabled", "the key has an effect in cluster mode: no warning")

	info := createWHIP(ctx, t, env.ingress, "whip-proxy", "proxied-cam", false)
	sub := e2e.NewSubscriber(t, env.lk, "whip-proxy")
	c := newWHIPClient(t)
	resource, etag := publishWHIP(t, lb, 0, info.StreamKey, c)
	require.NotEmpty(t, etag, "livekit-server's ETag")
	c.waitConnected(ctx, t)
	require.Contains(t, a.Tail(1<<20), "WHIP session proxied to livekit-server")
	// The answer is livekit-server's: its candidates are on its UDP port.
	conf, err := os.ReadFile(env.lk.ConfigPath)
	require.NoError(t, err)
	m := regexp.MustCompile(`udp_port: (\d+)`).FindStringSubmatch(string(conf))
	require.NotNil(t, m)
	require.Contains(t, c.answer, " 127.0.0.1 "+m[1]+" typ host", "livekit-server terminates WebRTC")

	p, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool {
		return p.Identity == "proxied-cam" && p.Connected && len(p.Tracks) == 1
	})
	require.NoError(t, err)
	require.Equal(t, livekit.ParticipantInfo_INGRESS, p.Kind)
	require.Equal(t, info.IngressId, p.Attributes[livekit.AttrIngressID])
	st := waitState(ctx, t, env.ingress, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.True(t, strings.HasSuffix(resource, "/"+st.State.ResourceId))
	require.Equal(t, st.State.ResourceId, p.Attributes[livekit.AttrIngressResourceID])
	_, err = sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
		return s.ParticipantIdentity == "proxied-cam" && s.Width == 640 && s.Window >= time.Second
	})
	require.NoError(t, err)
	// livekit-server's report (every 10 s) describes the input.
	for {
		cur, err := env.ingress.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: info.IngressId})
		require.NoError(t, err)
		if v := cur.Items[0].State.GetVideo(); v.GetMimeType() != "" {
			require.Equal(t, "video/VP8", v.GetMimeType())
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the input video was never described: %v", cur.Items[0].State)
		case <-time.After(500 * time.Millisecond):
		}
	}

	// An ICE restart through worker B goes to livekit-server through A,
	// and livekit-server's answer comes back: its new ICE credentials and
	// candidates, and its ETag (its ICE ufrag). Whether the restarted ICE
	// then connects is livekit-server's part: with v1.13.11 and this pion
	// client it does not (livekit-server closes the participant about
	// 15 s later, "short ice connection"), so the test goes on at once.
	frag := iceFragment(t, c.offer(t, true))
	lb.to(1)
	res, body := whipDo(t, http.MethodPatch, resource, map[string]string{
		"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": "*"}, frag)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	t.Logf("ICE restart through the proxy: answer %q (ETag %s)", body, res.Header.Get("ETag"))
	mu := regexp.MustCompile(`a=ice-ufrag:(\S+)`).FindStringSubmatch(body)
	require.NotNil(t, mu, body)
	require.Equal(t, mu[1], res.Header.Get("ETag"), "livekit-server's ETag is its ICE ufrag")
	require.Contains(t, body, " 127.0.0.1 "+m[1]+" typ host", "livekit-server's candidates")
	require.Contains(t, b.Tail(1<<20), "WHIP PATCH answered by the server holding the resource")

	// The DELETE through worker B: A deletes the participant on
	// livekit-server.
	lb.to(1)
	res, body = whipDo(t, http.MethodDelete, resource, nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	end := waitState(ctx, t, env.ingress, info.IngressId, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.State.Error)
	_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "proxied-cam" && !p.Connected })
	require.NoError(t, err, "the participant leaves")
	require.Contains(t, b.Tail(1<<20), "WHIP client deleted a resource held by another server")
	require.Contains(t, a.Tail(1<<20), "WHIP client deleted the resource")
	require.NotContains(t, a.Tail(1<<20), "could not delete the WHIP session on livekit-server")
}
