package whip

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"
)

// dummyPublisher records what the server hands it.
type dummyPublisher struct {
	id      string
	started chan Negotiated
	video   chan struct{} // closed at the first video packet
	once    sync.Once
	closed  chan error
	done    chan struct{}

	mu   sync.Mutex
	seqs []uint16 // the video packets' sequence numbers, in order
}

func newDummyPublisher(id string) *dummyPublisher {
	return &dummyPublisher{id: id, started: make(chan Negotiated, 1), video: make(chan struct{}),
		closed: make(chan error, 1), done: make(chan struct{})}
}

func (p *dummyPublisher) ResourceID() string { return p.id }
func (p *dummyPublisher) Start(n Negotiated) error {
	p.started <- n
	return nil
}
func (p *dummyPublisher) WriteVideoRTP(_ int, pkt *rtp.Packet) {
	p.mu.Lock()
	p.seqs = append(p.seqs, pkt.SequenceNumber)
	p.mu.Unlock()
	p.once.Do(func() { close(p.video) })
}

// videoSeqs returns the video sequence numbers received so far.
func (p *dummyPublisher) videoSeqs() []uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seqs)
}

func (p *dummyPublisher) WriteAudioRTP(*rtp.Packet) {}
func (p *dummyPublisher) Close(err error)           { p.closed <- err }
func (p *dummyPublisher) Done() <-chan struct{}     { return p.done }

// transcodingPublisher is a dummyPublisher of a session that transcodes
// audio.
type transcodingPublisher struct{ *dummyPublisher }

func (transcodingPublisher) TranscodesAudio() bool { return true }

// dummyAuthorizer knows the keys "good" and "transcode" (one publisher
// per publish, in order; the second transcodes) and "disabled".
type dummyAuthorizer struct {
	mu   sync.Mutex
	pubs []*dummyPublisher
}

func (a *dummyAuthorizer) AuthorizeWHIP(key, _ string) (Publisher, error) {
	switch key {
	case "good", "transcode":
		a.mu.Lock()
		defer a.mu.Unlock()
		p := newDummyPublisher(fmt.Sprintf("WH_test%d", len(a.pubs)))
		a.pubs = append(a.pubs, p)
		if key == "transcode" {
			return transcodingPublisher{p}, nil
		}
		return p, nil
	case "disabled":
		return nil, fmt.Errorf("%w: ingress is disabled", ErrForbidden)
	}
	return nil, ErrStreamKeyNotFound
}

func startServer(t *testing.T) (*Server, *dummyAuthorizer, string) {
	t.Helper()
	a := &dummyAuthorizer{}
	// The shared UDP port is the default transport (rtc_config.udp_port).
	s := &Server{Address: "127.0.0.1:0", Authorizer: a, ICE: ICEConfig{IncludeLoopback: true, IPs: Filter{Includes: []string{"127.0.0.1"}}, UDPPort: freeUDPPort(t)}}
	require.NoError(t, s.Initialize())
	t.Cleanup(s.Close)
	return s, a, "http://" + s.Addr().String()
}

func do(t *testing.T, method, url string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

const h265Offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"a=group:BUNDLE 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n" +
	"a=rtpmap:96 H265/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"

func TestRequestErrors(t *testing.T) {
	_, _, base := startServer(t)
	sdpHdr := map[string]string{"Content-Type": "application/sdp"}
	for _, c := range []struct {
		name, method, path string
		hdr                map[string]string
		body               string
		status             int
		msg                string
	}{
		{"unknown key", "POST", "/w/nope", sdpHdr, h265Offer, 404, "stream key not found"},
		{"disabled", "POST", "/w/disabled", sdpHdr, offerFor(t, webrtc.MimeTypeVP8), 403, "ingress is disabled"},
		{"bad SDP", "POST", "/w/good", sdpHdr, "hello", 400, "not an SDP offer"},
		{"unsupported codec", "POST", "/w/good", sdpHdr, h265Offer, 400, "unsupported video codec H265 in the offer"},
		{"not SDP with another content type", "POST", "/w/good", map[string]string{"Content-Type": "application/json"}, `{"x":1}`, 400, `(the request's Content-Type was "application/json"; a WHIP client sends application/sdp)`},
		{"no key", "POST", "/w", sdpHdr, h265Offer, 401, "Bearer"},
		{"Authorization of another scheme", "POST", "/w", map[string]string{"Content-Type": "application/sdp", "Authorization": "Basic Z29vZDp4"}, h265Offer, 401, "Bearer"},
		{"unknown resource", "DELETE", "/w/good/WH_nothing", nil, "", 404, "resource not found"},
		{"GET", "GET", "/w/good", nil, "", 405, "not part of WHIP"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := do(t, c.method, base+c.path, c.hdr, c.body)
			require.Equal(t, c.status, res.StatusCode, body)
			require.Contains(t, body, c.msg)
			require.Equal(t, "*", res.Header.Get("Access-Control-Allow-Origin"))
		})
	}
	res, body := do(t, "POST", base+"/w/nope", map[string]string{"Content-Type": "application/sdp", "Accept": "application/json"}, h265Offer)
	require.Equal(t, 404, res.StatusCode)
	require.JSONEq(t, `{"error":"stream key not found"}`, body)
	res, _ = do(t, "GET", base+"/health", nil, "")
	require.Equal(t, 200, res.StatusCode)
}

// TestHealthOnWHIPPort: /health and /availability answer on the WHIP
// port as on health_port (the Health handler's / and /availability), as
// the official worker's WHIP server serves them.
func TestHealthOnWHIPPort(t *testing.T) {
	var available atomic.Bool
	available.Store(true)
	h := http.NewServeMux()
	h.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Healthy") })
	h.HandleFunc("/availability", func(w http.ResponseWriter, _ *http.Request) {
		if !available.Load() {
			http.Error(w, "No availability", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "Available")
	})
	s := &Server{Address: "127.0.0.1:0", Authorizer: &dummyAuthorizer{}, Health: h}
	require.NoError(t, s.Initialize())
	t.Cleanup(s.Close)
	base := "http://" + s.Addr().String()

	res, body := do(t, "GET", base+"/health", nil, "")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "Healthy", body)
	res, body = do(t, "GET", base+"/availability", nil, "")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "Available", body)
	available.Store(false)
	res, body = do(t, "GET", base+"/availability", nil, "")
	require.Equal(t, 503, res.StatusCode)
	require.Contains(t, body, "No availability")
	res, _ = do(t, "HEAD", base+"/availability", nil, "")
	require.Equal(t, 503, res.StatusCode)
	res, _ = do(t, "POST", base+"/availability", map[string]string{"Content-Type": "application/sdp"}, "v=0")
	require.NotEqual(t, 503, res.StatusCode, "POST /<app> is still a WHIP publish")
}

// TestLenientClients: what the official worker accepts from WHIP
// clients, Tributary accepts too: a stream key in Authorization without
// the "Bearer " scheme, and an offer sent with no Content-Type or another
// one than application/sdp.
func TestLenientClients(t *testing.T) {
	for _, c := range []struct {
		name string
		hdr  map[string]string
	}{
		{"bare key in Authorization", map[string]string{"Content-Type": "application/sdp", "Authorization": "good"}},
		{"lower-case bearer", map[string]string{"Content-Type": "application/sdp", "Authorization": "bearer good"}},
		{"no Content-Type", map[string]string{"Authorization": "Bearer good"}},
		{"text/plain", map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer good"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, base := startServer(t)
			cl := newClient(t)
			res, answer := do(t, "POST", base+"/w", c.hdr, cl.offer(t))
			require.Equal(t, http.StatusCreated, res.StatusCode, answer)
			require.Equal(t, "/w/good/WH_test0", res.Header.Get("Location"))
		})
	}
}

func TestCORSPreflight(t *testing.T) {
	_, _, base := startServer(t)
	res, _ := do(t, "OPTIONS", base+"/w/good", map[string]string{
		"Origin": "https://page.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "content-type",
	}, "")
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	require.Equal(t, "https://page.example", res.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, res.Header.Get("Access-Control-Allow-Methods"), "POST")
	require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Content-Type")
	require.Contains(t, res.Header.Get("Access-Control-Expose-Headers"), "Location")
	require.Equal(t, "application/sdp", res.Header.Get("Accept-Post"))
}

// client is a pion WHIP client publishing VP8 and Opus.
type client struct {
	pc        *webrtc.PeerConnection
	video     *webrtc.TrackLocalStaticSample
	connected chan struct{}
}

func newClient(t *testing.T) *client {
	t.Helper()
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "s")
	require.NoError(t, err)
	c := newClientWith(t, video)
	c.video = video
	return c
}

// newClientWith is a client publishing video from the given track.
func newClientWith(t *testing.T, video webrtc.TrackLocal) *client {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterDefaultCodecs())
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	c := &client{pc: pc, connected: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(c.connected) })
		}
	})
	_, err = pc.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	require.NoError(t, err)
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "s")
	require.NoError(t, err)
	_, err = pc.AddTransceiverFromTrack(audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	require.NoError(t, err)
	return c
}

func (c *client) offer(t *testing.T) string {
	t.Helper()
	o, err := c.pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(c.pc)
	require.NoError(t, c.pc.SetLocalDescription(o))
	<-gathered
	return c.pc.LocalDescription().SDP
}

func offerFor(t *testing.T, _ string) string {
	return newClient(t).offer(t)
}

// TestSession publishes with a pion client (Bearer form) and walks the
// resource through trickle, a wrong ETag, an ICE restart and DELETE.
func TestSession(t *testing.T) {
	_, a, base := startServer(t)
	c := newClient(t)
	res, answer := do(t, "POST", base+"/w", map[string]string{
		"Content-Type": "application/sdp", "Authorization": "Bearer good",
	}, c.offer(t))
	require.Equal(t, http.StatusCreated, res.StatusCode, answer)
	require.Equal(t, "/w/good/WH_test0", res.Header.Get("Location"))
	require.Equal(t, "application/sdp", res.Header.Get("Content-Type"))
	etag := res.Header.Get("ETag")
	require.Regexp(t, `^"\w+"$`, etag)
	require.Equal(t, "application/trickle-ice-sdpfrag", res.Header.Get("Accept-Patch"))
	require.NoError(t, c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))

	pub := a.pubs[0]
	n := <-pub.started
	require.Equal(t, webrtc.MimeTypeVP8, n.Video.MimeType)
	require.Equal(t, webrtc.MimeTypeOpus, n.Audio.MimeType)
	require.Equal(t, 1, n.VideoLayers())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-c.connected:
	case <-ctx.Done():
		t.Fatal("client never connected")
	}
	// A VP8 keyframe header; the server only forwards packets.
	key := []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0, 0, 0, 0}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-pub.video:
			break wait
		case <-tick.C:
			require.NoError(t, c.video.WriteSample(pmedia.Sample{Data: key, Duration: 33 * time.Millisecond}))
		case <-ctx.Done():
			t.Fatal("no video packet reached the publisher")
		}
	}

	loc := base + res.Header.Get("Location")
	frag := "a=ice-ufrag:" + iceUfrag(c.pc.LocalDescription().SDP) + "\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n"
	fragHdr := map[string]string{"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": etag}
	res, body := do(t, "PATCH", loc, fragHdr, frag)
	require.Equal(t, http.StatusNoContent, res.StatusCode, body)

	res, body = do(t, "PATCH", loc, map[string]string{"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": `"stale"`}, frag)
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode, body)

	res, body = do(t, "PATCH", loc, map[string]string{"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": "*"},
		"a=ice-ufrag:newu\r\na=ice-pwd:newpasswordnewpasswordxx\r\n")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Equal(t, "application/trickle-ice-sdpfrag", res.Header.Get("Content-Type"))
	require.NotEqual(t, etag, res.Header.Get("ETag"))
	require.Contains(t, body, "a=ice-ufrag:")
	require.NotContains(t, body, "a=ice-ufrag:"+iceUfrag(answer)+"\r", "new server credentials")
	require.Contains(t, body, "a=candidate:")

	res, body = do(t, "PATCH", loc, fragHdr, frag)
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode, "the old ETag is stale after the restart: %s", body)

	res, _ = do(t, "DELETE", loc, nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	select {
	case err := <-pub.closed:
		require.NoError(t, err, "DELETE is a clean end")
	case <-ctx.Done():
		t.Fatal("the publisher was not closed")
	}
	res, _ = do(t, "DELETE", loc, nil, "")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// TestReplaced: a session that ends on the server side (a newer publisher
// took the key) closes its peer connection and its resource.
func TestReplaced(t *testing.T) {
	_, a, base := startServer(t)
	c := newClient(t)
	res, answer := do(t, "POST", base+"/w/good", map[string]string{"Content-Type": "application/sdp"}, c.offer(t))
	require.Equal(t, http.StatusCreated, res.StatusCode, answer)
	pub := a.pubs[0]
	close(pub.done)
	select {
	case <-pub.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced session was not torn down")
	}
	res, _ = do(t, "DELETE", base+res.Header.Get("Location"), nil, "")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// TestG711: an offer whose audio is G.711 only (PCMA, as SIP gateways and
// cameras send) is answered with PCMA for a session that transcodes
// audio, and refused with the reason for one that cannot (the passthrough
// build). An offer listing PCMA before Opus is answered with Opus.
func TestG711(t *testing.T) {
	_, a, base := startServer(t)
	offer := func(opus bool) string {
		m := &webrtc.MediaEngine{}
		require.NoError(t, m.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8,
		}, webrtc.RTPCodecTypeAudio))
		if opus {
			require.NoError(t, m.RegisterCodec(webrtc.RTPCodecParameters{
				RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111,
			}, webrtc.RTPCodecTypeAudio))
		}
		pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = pc.Close() })
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, "audio", "s")
		require.NoError(t, err)
		_, err = pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		require.NoError(t, err)
		o, err := pc.CreateOffer(nil)
		require.NoError(t, err)
		require.NoError(t, pc.SetLocalDescription(o))
		return o.SDP
	}
	res, body := do(t, "POST", base+"/w/good", map[string]string{"Content-Type": "application/sdp"}, offer(false))
	require.Equal(t, http.StatusBadRequest, res.StatusCode, body)
	require.Contains(t, body, "G.711 audio (PCMA) must be transcoded to Opus, and this Tributary cannot transcode")

	res, body = do(t, "POST", base+"/w/transcode", map[string]string{"Content-Type": "application/sdp"}, offer(false))
	require.Equal(t, http.StatusCreated, res.StatusCode, body)
	require.Contains(t, body, "PCMA/8000")
	n := <-a.pubs[1].started
	require.Equal(t, webrtc.MimeTypePCMA, n.Audio.MimeType)
	require.Nil(t, n.Video)

	o := offer(true)
	require.Less(t, strings.Index(o, "PCMA/8000"), strings.Index(o, "opus/48000"), "the offer lists PCMA first")
	res, body = do(t, "POST", base+"/w/transcode", map[string]string{"Content-Type": "application/sdp"}, o)
	require.Equal(t, http.StatusCreated, res.StatusCode, body)
	require.NotContains(t, body, "PCMA/8000")
	n = <-a.pubs[2].started
	require.Equal(t, webrtc.MimeTypeOpus, n.Audio.MimeType)
}
