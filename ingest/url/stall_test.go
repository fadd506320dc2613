package url

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// stallingServer answers with headers and the first bytes of a body, then
// sends nothing until the test ends.
func stallingServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, stall func())) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, func() {
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

// TestStalledOrigin: a file, a stream, an HLS playlist, an HLS segment and
// a spooled MP4 whose origin goes silent after its first bytes each end
// with ErrStalled within the idle timeout (0.3 s here), not when the
// session is deleted.
func TestStalledOrigin(t *testing.T) {
	const idle = 300 * time.Millisecond
	mp4, err := os.ReadFile("../../demux/mp4/testdata/h264_aac_moov_end.mp4")
	require.NoError(t, err)
	cases := []struct {
		name    string
		path    string
		handler func(w http.ResponseWriter, r *http.Request, stall func())
	}{
		{"file with ranges", "/f.ts", func(w http.ResponseWriter, r *http.Request, stall func()) {
			w.Header().Set("Content-Range", "bytes 0-0/1000000")
			if r.Header.Get("Range") == "bytes=0-0" {
				w.WriteHeader(http.StatusPartialContent)
				_, _ = w.Write([]byte{0x47})
				return
			}
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(nullTS(1))
			stall()
		}},
		{"stream", "/live.ts", func(w http.ResponseWriter, _ *http.Request, stall func()) {
			w.Header().Set("Content-Type", "video/mp2t")
			_, _ = w.Write(nullTS(40))
			stall()
		}},
		{"stream stalled before it is recognized", "/live", func(w http.ResponseWriter, _ *http.Request, stall func()) {
			_, _ = w.Write([]byte{0x47})
			stall()
		}},
		{"HLS playlist", "/index.m3u8", func(w http.ResponseWriter, _ *http.Request, stall func()) {
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			_, _ = w.Write([]byte("#EXTM3U\n#EXT-X-VERSION:3\n"))
			stall()
		}},
		{"HLS segment", "/vod.m3u8", func(w http.ResponseWriter, r *http.Request, stall func()) {
			if strings.HasSuffix(r.URL.Path, ".m3u8") {
				w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
				_, _ = w.Write([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n"))
				return
			}
			w.Header().Set("Content-Type", "video/mp2t")
			_, _ = w.Write(nullTS(10))
			stall()
		}},
		{"spooled MP4", "/moov_end.mp4", func(w http.ResponseWriter, _ *http.Request, stall func()) {
			w.Header().Set("Content-Type", "video/mp4")
			_, _ = w.Write(mp4[:8192])
			stall()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := stallingServer(t, c.handler)
			cl := &Client{AllowPrivate: true, IdleTimeout: idle, SpoolDir: t.TempDir(), hlsRetryDelay: 10 * time.Millisecond}
			require.NoError(t, cl.Initialize())
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			err := Pull(ctx, Config{URL: srv.URL + c.path + "?token=SECRET", Client: cl, Sink: newSink()})
			took := time.Since(start)
			require.ErrorIs(t, err, ErrStalled)
			require.Contains(t, err.Error(), "the origin sent nothing for 0.3 s")
			require.Contains(t, err.Error(), srv.URL, "the error says what was being read")
			require.NotContains(t, err.Error(), "SECRET")
			require.Less(t, took, 10*time.Second, "ended by the idle deadline, not the test's")
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
		})
	}
}

// TestSlowSinkIsNotIdle: the deadline counts only time spent waiting for
// the origin: a sink that takes longer than the idle timeout for a frame
// (real-time playback) does not end the pull, nor does an origin that
// sends slowly but steadily.
func TestSlowSinkIsNotIdle(t *testing.T) {
	const idle = 300 * time.Millisecond
	ts, err := os.ReadFile("../../demux/ts/testdata/h264_bf2_aac.ts")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		if r.URL.Path == "/steady.ts" {
			for off := 0; off < len(ts); off += 64 << 10 {
				_, _ = w.Write(ts[off:min(off+64<<10, len(ts))])
				w.(http.Flusher).Flush()
				time.Sleep(idle / 3)
			}
			return
		}
		_, _ = w.Write(ts)
	}))
	defer srv.Close()
	cl := &Client{AllowPrivate: true, IdleTimeout: idle, SpoolDir: t.TempDir()}
	require.NoError(t, cl.Initialize())
	defer cl.Close()

	s := &slowSink{sink: newSink(), pause: 2 * idle}
	require.NoError(t, Pull(context.Background(), Config{URL: srv.URL + "/all.ts", Client: cl, Sink: s}))
	require.NoError(t, Pull(context.Background(), Config{URL: srv.URL + "/steady.ts", Client: cl, Sink: newSink()}))
}

// slowSink pauses on its first frames, as a sink playing in real time
// does.
type slowSink struct {
	*sink
	pause  time.Duration
	paused int
}

func (s *slowSink) Frame(f *media.Frame) error {
	if s.paused < 2 {
		s.paused++
		time.Sleep(s.pause)
	}
	return s.sink.Frame(f)
}
