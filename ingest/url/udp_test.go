package url

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// TestPullUDP: a udp:// pull binds its port and plays the MPEG-TS sent to
// it in datagrams of seven packets, as encoders send it; it ends with a
// reason when nothing arrives, and refuses system ports and host names.
func TestPullUDP(t *testing.T) {
	ts, err := os.ReadFile("../../demux/ts/testdata/h264_bf2_aac.ts")
	require.NoError(t, err)
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()

	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var got Format
	var mu sync.Mutex
	go func() {
		done <- Pull(ctx, Config{URL: "udp://127.0.0.1:" + strconv.Itoa(port), Sink: s, OnFormat: func(f Format) {
			mu.Lock()
			got = f
			mu.Unlock()
		}})
	}()
	out, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	defer out.Close()
	// The pull binds its socket a moment after it starts: send the file
	// twice, a little apart, as a live sender keeps sending.
	for range 2 {
		for i := 0; i < len(ts); i += 7 * 188 {
			_, _ = out.Write(ts[i:min(i+7*188, len(ts))])
			if i%(70*188) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.frames[media.KindVideo] >= 20 && s.frames[media.KindAudio] >= 20
	}, 10*time.Second, 50*time.Millisecond)
	s.mu.Lock()
	require.Equal(t, media.CodecH264, s.tracks[media.KindVideo].Codec)
	require.Equal(t, media.CodecAAC, s.tracks[media.KindAudio].Codec)
	s.mu.Unlock()
	mu.Lock()
	require.Equal(t, FormatTS, got)
	mu.Unlock()
	cancel()
	<-done

	require.ErrorContains(t, Pull(context.Background(), Config{URL: "udp://127.0.0.1:999", Sink: newSink()}), "needs a port of 1024 or above")
	require.ErrorContains(t, Pull(context.Background(), Config{URL: "udp://cam.example:5000", Sink: newSink()}), "must be an IP address to listen on or a multicast group")
	require.True(t, Live("udp://239.0.0.1:5000"))
}

// TestUDPIdle: a udp:// pull that receives nothing ends with the reason.
func TestUDPIdle(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	r := newDatagramReader(pc, 200*time.Millisecond)
	_, err = r.Read(make([]byte, 188))
	require.ErrorContains(t, err, "nothing received on udp for 200ms")
}
