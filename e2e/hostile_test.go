package e2e_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"
	"github.com/yutopp/go-rtmp/handshake"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
	"github.com/tributary-ingress/tributary/internal/testutil/rtmptest"
)

// hostileRSSBound is how much Tributary's resident memory may grow over
// its level with one healthy session while the hostile clients below do
// their worst (before the bounds, the HLS playlist alone took it to
// 8.6 GiB, and two RTMP clients to 64 MiB before presenting a key).
const hostileRSSBound = 256 << 20

// TestHostileClients runs what a public ingest port meets — slowloris on
// every HTTP port and on RTMP, RTMP chunk abuse, garbage and truncated
// handshakes on RTMP/RTMPS/SRT, oversized and malformed SDP and JSON, an
// HLS amplification playlist, a playlist that never ends, a redirect
// loop — against one Tributary while a healthy RTMP session publishes on
// another key. Each attack gets its documented outcome (docs/security.md);
// the healthy viewer sees no gap, and the process's memory stays bounded.
// Attackers connect from 127.0.0.2 and 127.0.0.3, so the per-address
// bounds they hit are not the test's own (127.0.0.1).
func TestHostileClients(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	srtPort, rtmpsPort, metricsPort := freeUDPPort(t), freePort(t), freePort(t)
	cert, key := selfSigned(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf(
		// The URL attacks are served from this machine: startTributary
		// turns the private-address guard off.
		"srt_port: %d\nrtmps_port: %d\nrtmps_cert_file: %s\nrtmps_key_file: %s\nprometheus_port: %d\n",
		srtPort, rtmpsPort, cert, key, metricsPort)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The healthy session: a passthrough RTMP push watched by a viewer.
	healthy := createRTMP(ctx, t, c, "healthy", "src", false)
	ff := e2e.StartProcess(t, "ffmpeg-healthy", e2e.FFmpegBin(t), source{size: "640x360", rate: "30", audio: true, secs: 240}.
		ffmpegArgs(fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, healthy.StreamKey))...)
	fctx, stopFF := ff.WithExit(ctx)
	defer stopFF()
	waitState(fctx, t, c, healthy.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	viewer := e2e.NewSubscriber(t, lk, "healthy")
	sid := watchVideo(fctx, t, viewer)
	time.Sleep(2 * time.Second)

	rss := watchRSS(t, tr.PID())
	base := rss.now()
	from := time.Now()
	t.Logf("RSS with the healthy session: %d MiB", base>>20)

	host := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	apiPort := portOf(t, tr.APIURL)
	healthPort := portOf(t, tr.HealthURL)

	t.Run("slowloris", func(t *testing.T) {
		// Every HTTP port and RTMP at once: 70 connections from one
		// address sending half a request (HTTP) or a byte every 2 s
		// (RTMP). The per-address bound (64 HTTP, 32 RTMP) refuses the
		// rest at once; the header timeout (HTTP, 10 s) and the publish
		// deadline (RTMP, 10 s) close the others.
		var wg sync.WaitGroup
		for _, p := range []struct {
			name  string
			port  int
			limit int
			first []byte
		}{
			{"api", apiPort, 64, []byte("POST /console/login HTTP/1.1\r\nHost: x\r\n")},
			{"health", healthPort, 64, []byte("GET /health HTTP/1.1\r\n")},
			{"metrics", metricsPort, 64, []byte("GET /metrics HTTP/1.1\r\nHost")},
			{"whip", tr.WHIPPort, 64, []byte("POST /w/x HTTP/1.1\r\nContent-Type: application/sdp\r\n")},
			{"rtmp", tr.RTMPPort, 32, []byte{3}},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				held, refused := slowloris(t, "127.0.0.2", host(p.port), 70, p.first, 15*time.Second)
				if held != p.limit || refused != 70-p.limit {
					t.Errorf("%s: %d connections held and %d refused at once, want %d and %d", p.name, held, refused, p.limit, 70-p.limit)
				}
			}()
		}
		// Meanwhile the API answers the test's own address.
		time.Sleep(time.Second)
		_, err := c.ListIngress(ctx, &livekit.ListIngressRequest{})
		require.NoError(t, err, "the API answers other clients during the slowloris")
		wg.Wait()
	})

	t.Run("rtmp chunk abuse", func(t *testing.T) {
		for _, a := range []struct {
			name string
			send []byte
		}{
			{"16 MiB message declared before publish", append(rtmptest.SetChunkSize(4<<20), rtmptest.ChunkHeader0(3, 20, 0xfffff0, 0)...)},
			{"65 chunk streams", manyChunkStreams(65)},
			{"huge chunk size and 16 MiB video", append(rtmptest.SetChunkSize(0x7fffffff), rtmptest.ChunkHeader0(6, 9, 0xffffff, 0)...)},
			{"chunk continuing no message", []byte{3<<6 | 5, 1, 2, 3}},
			// A command whose AMF0 strict array declares 2^31 elements:
			// go-amf0 allocated them before reading one (the process
			// died of it).
			{"AMF0 array bomb", append(rtmptest.ChunkHeader0(3, 20, 18, 0), 0x02, 0x00, 0x01, 'x', 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x0a, 0x7f, 0xff, 0xff, 0xff)},
			{"chunk size 1", rtmptest.SetChunkSize(1)},
		} {
			t.Run(a.name, func(t *testing.T) {
				cn := dialFrom(t, "127.0.0.3", host(tr.RTMPPort))
				defer cn.Close()
				require.NoError(t, handshake.HandshakeWithServer(cn, cn, &handshake.Config{}))
				_, _ = cn.Write(a.send)
				_, _ = cn.Write(make([]byte, 1<<20)) // the body it announced
				requireClosedWithin(t, cn, 3*time.Second)
			})
		}
	})

	t.Run("garbage handshakes", func(t *testing.T) {
		junk := make([]byte, 4096)
		_, _ = rand.Read(junk)
		for _, a := range []struct {
			name    string
			addr    string
			send    []byte
			closeIn time.Duration
		}{
			// A random C0/C1/C2 passes go-rtmp's handshake (it does not
			// verify digests); the chunks after it are garbage: ended by
			// the chunk guard or the publish deadline.
			{"rtmp random bytes", host(tr.RTMPPort), junk, 12 * time.Second},
			{"rtmp truncated handshake", host(tr.RTMPPort), []byte{3, 0, 0, 0}, 12 * time.Second},
			{"rtmp wrong version", host(tr.RTMPPort), append([]byte{0x47}, junk[:1536]...), 12 * time.Second},
			{"rtmps not TLS", host(rtmpsPort), junk, 12 * time.Second},
			{"rtmps plain RTMP", host(rtmpsPort), append([]byte{3}, junk[:1536]...), 12 * time.Second},
		} {
			t.Run(a.name, func(t *testing.T) {
				cn := dialFrom(t, "127.0.0.3", a.addr)
				defer cn.Close()
				_, _ = cn.Write(a.send)
				requireClosedWithin(t, cn, a.closeIn)
			})
		}
		t.Run("rtmps truncated ClientHello", func(t *testing.T) {
			cn := dialFrom(t, "127.0.0.3", host(rtmpsPort))
			defer cn.Close()
			_, _ = cn.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00})
			requireClosedWithin(t, cn, 12*time.Second)
		})
		t.Run("srt garbage datagrams", func(t *testing.T) {
			u, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: srtPort})
			require.NoError(t, err)
			defer u.Close()
			for i := range 2000 {
				n := 1 + i%1500
				b := junk[:n]
				if i%3 == 0 && n >= 16 {
					// A control packet header (handshake type) with a
					// truncated or garbage body.
					binary.BigEndian.PutUint32(b, 0x80000000)
				}
				_, _ = u.Write(b)
			}
			// SRT still takes a real publisher after the garbage.
			info := createRTMP(ctx, t, c, "srt-after-garbage", "srt", false)
			push := e2e.StartProcess(t, "ffmpeg-srt", e2e.FFmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
				"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast",
				"-tune", "zerolatency", "-bf", "0", "-g", "30", "-an", "-f", "mpegts",
				fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s", srtPort, info.StreamKey))
			pctx, stop := push.WithExit(ctx)
			defer stop()
			waitState(pctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
			_, err = c.DeleteIngress(ctx, &livekit.DeleteIngressRequest{IngressId: info.IngressId})
			require.NoError(t, err)
		})
	})

	t.Run("oversized and malformed requests", func(t *testing.T) {
		whipIngress, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{InputType: livekit.IngressInput_WHIP_INPUT, RoomName: "whip-bad", ParticipantIdentity: "w"})
		require.NoError(t, err)
		whipURL := fmt.Sprintf("http://127.0.0.1:%d/w/%s", tr.WHIPPort, whipIngress.StreamKey)
		tok, err := auth.NewAccessToken("devkey", "secret").SetVideoGrant(&auth.VideoGrant{IngressAdmin: true}).SetValidFor(time.Minute).ToJWT()
		require.NoError(t, err)
		bearer := http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
		sdp := http.Header{"Content-Type": {"application/sdp"}}
		json := http.Header{"Content-Type": {"application/json"}}
		for _, r := range []struct {
			name, url string
			header    http.Header
			body      string
			code      int
			msg       string
		}{
			{"WHIP offer of 1 MiB", whipURL, sdp, "v=0\r\n" + strings.Repeat("a=x:y\r\n", 150_000), 413, "body larger than 262144 bytes"},
			{"WHIP offer not SDP", whipURL, sdp, "v=0\r\nthis is not a session description\r\n", 400, ""},
			{"WHIP offer without media", whipURL, sdp, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 400, ""},
			{"API body of 2 MiB", tr.APIURL + "/twirp/livekit.Ingress/ListIngress", bearer, `{"room_name":"` + strings.Repeat("a", 2<<20) + `"}`, 400, "larger than the 1048576 bytes"},
			{"API malformed JSON", tr.APIURL + "/twirp/livekit.Ingress/CreateIngress", bearer, `{"input_type":`, 400, "could not be decoded"},
			{"API JSON of the wrong shape", tr.APIURL + "/twirp/livekit.Ingress/CreateIngress", bearer, `{"input_type":[1,2,3]}`, 400, ""},
			{"console login of 1 MiB", tr.APIURL + "/console/login", json, `{"api_key":"` + strings.Repeat("k", 1<<20) + `"}`, 400, "invalid JSON body"},
		} {
			t.Run(r.name, func(t *testing.T) {
				code, body := httpDo(ctx, http.MethodPost, r.url, r.body, r.header)
				require.Equal(t, r.code, code, body)
				require.Contains(t, body, r.msg)
			})
		}
	})

	t.Run("hostile URLs", func(t *testing.T) {
		var requests atomic.Int64
		mux := http.NewServeMux()
		longPath := "/" + strings.Repeat("v", 16<<10) + ".m3u8"
		mux.HandleFunc("/master.m3u8", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n%s\n", longPath)
		})
		mux.HandleFunc(longPath, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			bw := bufio.NewWriter(w)
			fmt.Fprint(bw, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n")
			for range (4 << 20) / 13 {
				bw.WriteString("#EXTINF:1,\na\n")
			}
			fmt.Fprint(bw, "#EXT-X-ENDLIST\n")
			_ = bw.Flush()
		})
		mux.HandleFunc("/endless.m3u8", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			fmt.Fprint(w, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n")
			line := []byte("#EXTINF:1,\nsegment.ts\n")
			for r.Context().Err() == nil {
				if _, err := w.Write(line); err != nil {
					return
				}
			}
		})
		mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/loop?again", http.StatusFound)
		})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			mux.ServeHTTP(w, r)
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		base := "http://" + ln.Addr().String()

		for _, u := range []struct {
			name, path, reason string
		}{
			{"HLS amplification", "/master.m3u8", "longer than"},
			{"playlist that never ends", "/endless.m3u8", "larger than"},
			{"redirect loop", "/loop", "stopped after 5 redirects"},
		} {
			t.Run(u.name, func(t *testing.T) {
				info := createURL(ctx, t, c, "url-"+strings.ReplaceAll(u.name, " ", "-"), "u", base+u.path, nil)
				st := waitAny(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_ERROR, livekit.IngressState_ENDPOINT_COMPLETE)
				require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, st.State.Status, st.State.Error)
				require.Contains(t, st.State.Error, u.reason)
				t.Logf("%s: %s", u.name, st.State.Error)
			})
		}
		t.Logf("%d requests served to the URL ingresses", requests.Load())
	})

	// The healthy session went on throughout.
	pics := since(viewer.Timeline(sid), from)
	secs := e2e.Seconds(pics, 90000, 0)
	require.GreaterOrEqual(t, len(secs), 20, "the attacks ran for a while")
	counts := make([]int, len(secs))
	for i, s := range secs {
		counts[i] = s.Pictures
	}
	t.Logf("pictures per second of the healthy viewer during the attacks: %v", counts)
	for i, s := range secs[:len(secs)-1] {
		require.GreaterOrEqual(t, s.Pictures, 20, "second %d of the healthy viewer's video during the attacks", i)
	}
	info := waitState(ctx, t, c, healthy.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Empty(t, info.State.Error)
	peak := rss.stop()
	t.Logf("RSS: %d MiB with the healthy session, at most %d MiB during the attacks", base>>20, peak>>20)
	require.Less(t, peak-base, uint64(hostileRSSBound), "memory stays bounded")
	require.NotContains(t, logOf(t, tr), "panic")
}

// portOf is the port of an http://host:port URL.
func portOf(t *testing.T, u string) int {
	_, p, err := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
	require.NoError(t, err)
	n, err := strconv.Atoi(p)
	require.NoError(t, err)
	return n
}

func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	cn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	return cn
}

// closedWithin waits until the server closes cn (read returns EOF or a
// reset), at most d; it tells whether it did.
func closedWithin(cn net.Conn, d time.Duration) bool {
	_ = cn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, cn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func requireClosedWithin(t *testing.T, cn net.Conn, d time.Duration) {
	t.Helper()
	start := time.Now()
	require.True(t, closedWithin(cn, d), "the server closes the connection within %v", d)
	t.Logf("closed after %v", time.Since(start).Round(10*time.Millisecond))
}

// slowloris opens n connections from local to addr, sends first on each,
// then a byte every 2 s, and returns how many the server kept open at
// first and how many it closed at once; every connection must be closed
// by the server within closeIn.
func slowloris(t *testing.T, local, addr string, n int, first []byte, closeIn time.Duration) (held, refused int) {
	var conns []net.Conn
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	for range n {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
		cn, err := d.Dial("tcp", addr)
		if err != nil {
			t.Errorf("dial %s: %v", addr, err)
			return
		}
		_, _ = cn.Write(first)
		conns = append(conns, cn)
	}
	start := time.Now()
	open := make([]bool, len(conns))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, cn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Closed within 500 ms: refused at accept.
			if closedWithin(cn, 500*time.Millisecond) {
				return
			}
			mu.Lock()
			open[i] = true
			mu.Unlock()
			for time.Since(start) < closeIn {
				if closedWithin(cn, 2*time.Second) {
					return
				}
				if _, err := cn.Write([]byte{'x'}); err != nil {
					return
				}
			}
			t.Errorf("%s: a slow connection was still open after %v", addr, closeIn)
		}()
	}
	wg.Wait()
	for _, o := range open {
		if o {
			held++
		} else {
			refused++
		}
	}
	return held, refused
}

// manyChunkStreams opens n chunk streams, each with a 1-byte message
// (2-byte basic headers: chunk stream ids 64 and up).
func manyChunkStreams(n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, 0, byte(i), 0, 0, 0, 0, 0, 1, 20, 0, 0, 0, 0, 0x05)
	}
	return b
}

// rssWatch samples a process's resident memory every 100 ms.
type rssWatch struct {
	pid  int
	peak atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

func watchRSS(t *testing.T, pid int) *rssWatch {
	w := &rssWatch{pid: pid, done: make(chan struct{})}
	w.peak.Store(w.now())
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-tick.C:
				if v := w.now(); v > w.peak.Load() {
					w.peak.Store(v)
				}
			}
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// now is the process's current resident set size in bytes.
func (w *rssWatch) now() uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func (w *rssWatch) stop() uint64 {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	w.wg.Wait()
	return w.peak.Load()
}
