package rtsp

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeServer answers RTSP requests on one listener like a camera that
// names another host as the source of its UDP stream, and counts PLAYs.
type fakeServer struct {
	ln     net.Listener
	source string
	plays  atomic.Int32
	done   chan struct{}
}

func startFakeServer(t *testing.T, source string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &fakeServer{ln: ln, source: source, done: make(chan struct{})}
	go s.run()
	t.Cleanup(func() {
		ln.Close()
		<-s.done
	})
	return s
}

func (s *fakeServer) url() string { return "rtsp://" + s.ln.Addr().String() + "/cam" }

func (s *fakeServer) run() {
	defer close(s.done)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.serve(c) // one client at a time is enough
	}
}

func (s *fakeServer) serve(c net.Conn) {
	defer c.Close()
	r := textproto.NewReader(bufio.NewReader(c))
	sdp := fmt.Sprintf("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"+
		"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"+
		"a=fmtp:96 packetization-mode=1;sprop-parameter-sets=%s,%s\r\na=control:trackID=0\r\n",
		base64.StdEncoding.EncodeToString(testSPS), base64.StdEncoding.EncodeToString(testPPS))
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		h, err := r.ReadMIMEHeader()
		if err != nil {
			return
		}
		method, _, _ := strings.Cut(line, " ")
		out := "RTSP/1.0 200 OK\r\nCSeq: " + h.Get("CSeq") + "\r\n"
		body := ""
		switch method {
		case "OPTIONS":
			out += "Public: DESCRIBE, SETUP, PLAY, TEARDOWN\r\n"
		case "DESCRIBE":
			out += "Content-Type: application/sdp\r\nContent-Base: " + s.url() + "/\r\n"
			body = sdp
		case "SETUP":
			tr := h.Get("Transport")
			_, ports, _ := strings.Cut(tr, "client_port=")
			ports, _, _ = strings.Cut(ports, ";")
			out += "Session: 12345678;timeout=60\r\nTransport: RTP/AVP;unicast;client_port=" + ports +
				";server_port=40000-40001;source=" + s.source + "\r\n"
		case "PLAY":
			s.plays.Add(1)
			out += "Session: 12345678\r\n"
		}
		out += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		if _, err := c.Write([]byte(out)); err != nil {
			return
		}
	}
}

// TestCheckPeerRefusesTransportSource: a server that names a refused
// address as the source of its UDP stream (where the client would send
// its RTCP and NAT-punching packets) ends the pull before PLAY.
func TestCheckPeerRefusesTransportSource(t *testing.T) {
	errRefused := errors.New("refused peer")
	srv := startFakeServer(t, "10.9.8.7")
	var checked []netip.Addr
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Pull(ctx, Config{URL: srv.url(), Sink: newRecordSink(1), Transport: "udp",
		CheckPeer: func(a netip.Addr) error {
			checked = append(checked, a)
			if a == netip.MustParseAddr("10.9.8.7") {
				return errRefused
			}
			return nil
		}})
	require.ErrorIs(t, err, errRefused)
	require.Equal(t, []netip.Addr{netip.MustParseAddr("10.9.8.7")}, checked)
	require.Zero(t, srv.plays.Load(), "no PLAY: nothing was sent to the named source")

	// The same server without CheckPeer is played: the refusal above came
	// from the check.
	ctx2, cancel2 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Pull(ctx2, Config{URL: srv.url(), Sink: newRecordSink(1), Transport: "udp"})
	}()
	require.Eventually(t, func() bool { return srv.plays.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
	cancel2()
	<-errc
}
