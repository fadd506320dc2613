package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/internal/testutil/e2e"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// whipSyncLead is how much earlier than the video of the same instant the
// audio of TestWHIPPassthroughAVSync's sender arrives: its video packets
// leave 150 ms after they were captured (and reported), its audio at once.
const whipSyncLead = 150 * time.Millisecond

// wireDelay is a pion interceptor that delays the video packets on their
// way to the wire. It sits below the sender-report interceptor, which
// therefore reports the time the packets were written (captured), not
// sent: the sender's reports stay true while its video arrives late.
type wireDelay struct {
	interceptor.NoOp
	delay time.Duration
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

type delayedPacket struct {
	at      time.Time
	header  rtp.Header
	payload []byte
}

func (d *wireDelay) NewInterceptor(string) (interceptor.Interceptor, error) { return d, nil }

func (d *wireDelay) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !strings.HasPrefix(info.MimeType, "video/") {
		return w
	}
	ch := make(chan delayedPacket, 4096)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			select {
			case <-d.stop:
				return
			case p := <-ch:
				select {
				case <-d.stop:
					return
				case <-time.After(time.Until(p.at)):
				}
				_, _ = w.Write(&p.header, p.payload, nil)
			}
		}
	}()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
		select {
		case ch <- delayedPacket{at: time.Now().Add(d.delay), header: h.Clone(), payload: slices.Clone(payload)}:
		default:
		}
		return len(payload), nil
	})
}

func (d *wireDelay) Close() error {
	d.once.Do(func() { close(d.stop) })
	d.wg.Wait()
	return nil
}

// readOggOpus returns the Opus packets of an Ogg file written with one
// packet per page (ffmpeg's -page_duration 20000).
func readOggOpus(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	require.NoError(t, err)
	return readUntilEOF(t, func() ([]byte, error) {
		page, _, err := r.ParseNextPage()
		// The second page is the comment header.
		if err != nil || bytes.HasPrefix(page, []byte("OpusTags")) {
			return nil, err
		}
		return page, nil
	})
}

// TestWHIPPassthroughAVSync: a WHIP sender (pion) captures a flash and a
// beep together every 2 s (VP8 + Opus) and reports it truly in its RTCP
// sender reports, but its video reaches Tributary 150 ms after its audio.
// Without transcoding, Tributary holds the audio back by the difference,
// so a LiveKit viewer, whose lip sync follows the room's sender reports,
// sees beep and flash within 40 ms (they were 150 ms apart when packets
// were forwarded on arrival).
func TestWHIPPassthroughAVSync(t *testing.T) {
	requireSyncDecoder(t, ffi.CodecVP8)
	const seconds = 20
	dir := t.TempDir()
	ivf, ogg := filepath.Join(dir, "sync.ivf"), filepath.Join(dir, "sync.ogg")
	vsrc, asrc := syncFilters("640x360")
	makeMedia(t, ivf, "-f", "lavfi", "-i", vsrc, "-t", itoa(seconds),
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "30", "-b:v", "600k", "-f", "ivf")
	makeMedia(t, ogg, "-f", "lavfi", "-i", asrc, "-t", itoa(seconds), "-ac", "2", "-c:a", "libopus", "-b:a", "64k",
		"-frame_duration", "20", "-page_duration", "20000", "-f", "ogg")
	frames, packets := testutil.IVFFile(t, ivf), readOggOpus(t, ogg)

	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	info := createWHIP(ctx, t, c, "whip-sync", "sender", false)
	sub := e2e.NewSubscriber(t, lk, "whip-sync")
	sub.CapturePackets()

	// The sender: pion with its default interceptors (sender reports)
	// above the wire delay of its video.
	delay := &wireDelay{delay: whipSyncLead, stop: make(chan struct{})}
	ir := &interceptor.Registry{}
	ir.Add(delay)
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterDefaultCodecs())
	require.NoError(t, webrtc.RegisterDefaultInterceptors(m, ir))
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)).
		NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	var senders sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		senders.Wait()
		_ = pc.Close()
	})
	connected := make(chan struct{})
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			connOnce.Do(func() { close(connected) })
		}
	})
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "sender")
	require.NoError(t, err)
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "sender")
	require.NoError(t, err)
	for _, tr := range []webrtc.TrackLocal{video, audio} {
		_, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		require.NoError(t, err)
	}
	o, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(o))
	<-gathered
	res, answer := whipDo(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, info.StreamKey),
		map[string]string{"Content-Type": "application/sdp"}, pc.LocalDescription().SDP)
	require.Equal(t, http.StatusCreated, res.StatusCode, answer)
	resource := fmt.Sprintf("http://127.0.0.1:%d%s", tr.WHIPPort, res.Header.Get("Location"))
	require.NoError(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatalf("the sender did not connect; ICE state %s", pc.ICEConnectionState())
	}

	// Each stream is written at its capture pace from one start: the
	// flash of frame 60k and the beep of packet 100k are captured together.
	start := time.Now()
	send := func(n int, period time.Duration, write func(i int)) {
		defer senders.Done()
		for i := range n {
			select {
			case <-stop:
				return
			case <-time.After(time.Until(start.Add(time.Duration(i) * period))):
			}
			write(i)
		}
	}
	senders.Add(2)
	go send(len(frames), time.Second/30, func(i int) {
		_ = video.WriteSample(media.Sample{Data: frames[i], Duration: time.Second / 30})
	})
	go send(len(packets), 20*time.Millisecond, func(i int) {
		_ = audio.WriteSample(media.Sample{Data: packets[i], Duration: 20 * time.Millisecond})
	})
	done := make(chan struct{})
	go func() { senders.Wait(); close(done) }()
	fctx, stopExit := tr.WithExit(ctx)
	defer stopExit()
	select {
	case <-done:
	case <-fctx.Done():
		t.Fatalf("sending did not finish: %v", context.Cause(fctx))
	}
	// The last video leaves the wire delay, then the sender ends.
	time.Sleep(whipSyncLead + 300*time.Millisecond)
	res, body := whipDo(t, http.MethodDelete, resource, nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	_, err = sub.WaitParticipant(fctx, func(p e2e.Participant) bool { return p.Identity == "sender" && !p.Connected })
	require.NoError(t, err, "the ingress participant leaves")

	vt, at := syncTracks(t, sub, "sender", "video/VP8")
	// The hold-back settles in seconds (it follows its target at 5 % of
	// the time passing).
	const warmup = 6 * time.Second
	steady := avOffsets(t, sub, vt, at, syncEventPeriod, warmup)
	require.GreaterOrEqual(t, len(steady), (seconds-8)/int(syncEventPeriod.Seconds()), "events measured after the warm-up")
	requireAVSync(t, steady)
}
