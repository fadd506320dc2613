package url

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// sink counts what a pull delivers.
type sink struct {
	mu     sync.Mutex
	tracks map[media.Kind]*media.Track
	frames map[media.Kind]int
}

func newSink() *sink {
	return &sink{tracks: map[media.Kind]*media.Track{}, frames: map[media.Kind]int{}}
}

func (s *sink) Track(t *media.Track) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tracks[t.Kind] = t
	return nil
}

func (s *sink) Frame(f *media.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames[f.Track.Kind]++
	return nil
}

// localClient is a Client for the tests' own servers on 127.0.0.1: the
// address guard off, the spool in a fresh directory.
func localClient(t *testing.T) *Client {
	t.Helper()
	c := &Client{AllowPrivate: true, SpoolDir: t.TempDir()}
	require.NoError(t, c.Initialize())
	t.Cleanup(c.Close)
	return c
}

// serveDir serves a folder with range support, or without when noRanges.
func serveDir(t *testing.T, dir string, noRanges bool) *httptest.Server {
	t.Helper()
	fs := http.FileServer(http.Dir(dir))
	h := http.Handler(fs)
	if noRanges {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(filepath.Join(dir, filepath.Clean(r.URL.Path)))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write(b)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestPullContainers plays real files of every container over HTTP, with
// and without range support, and checks the format is recognized from the
// bytes (the names lie on purpose for two of them) and the media arrives.
func TestPullContainers(t *testing.T) {
	cases := []struct {
		name       string
		dir, file  string
		format     Format
		video      media.CodecID
		audio      media.CodecID
		minV, minA int
	}{
		{"mp4 moov at end", "../../demux/mp4/testdata", "h264_aac_moov_end.mp4", FormatMP4, media.CodecH264, media.CodecAAC, 20, 20},
		{"mp4 faststart", "../../demux/mp4/testdata", "h264_aac_faststart.mp4", FormatMP4, media.CodecH264, media.CodecAAC, 20, 20},
		{"fragmented mp4", "../../demux/mp4/testdata", "h264_aac_frag.mp4", FormatMP4, media.CodecH264, media.CodecAAC, 20, 20},
		{"mov", "../../demux/mp4/testdata", "h264_aac.mov", FormatMP4, media.CodecH264, media.CodecAAC, 20, 20},
		{"m4a", "../../demux/mp4/testdata", "aac_48k.m4a", FormatMP4, 0, media.CodecAAC, 0, 20},
		{"webm", "../../demux/mkv/testdata", "vp8_opus.webm", FormatMKV, media.CodecVP8, media.CodecOpus, 20, 20},
		{"mkv", "../../demux/mkv/testdata", "h264_bf2_aac.mkv", FormatMKV, media.CodecH264, media.CodecAAC, 20, 20},
		{"ogg opus", "../../demux/ogg/testdata", "opus_stereo.ogg", FormatOgg, 0, media.CodecOpus, 0, 20},
		{"ogg vorbis", "../../demux/ogg/testdata", "vorbis_44k.ogg", FormatOgg, 0, media.CodecVorbis, 0, 20},
		{"mp3", "../../demux/mp3/testdata", "vbr_48k.mp3", FormatMP3, 0, media.CodecMP3, 0, 20},
		{"ts", "../../demux/ts/testdata", "h264_bf2_aac.ts", FormatTS, media.CodecH264, media.CodecAAC, 20, 20},
	}
	for _, noRanges := range []bool{false, true} {
		for _, c := range cases {
			name := c.name
			if noRanges {
				name += " without ranges"
			}
			t.Run(name, func(t *testing.T) {
				srv := serveDir(t, c.dir, noRanges)
				s := newSink()
				var got Format
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				err := Pull(ctx, Config{URL: srv.URL + "/" + c.file, Client: localClient(t), Sink: s, OnFormat: func(f Format) { got = f }})
				require.NoError(t, err)
				require.Equal(t, c.format, got)
				if c.video != 0 {
					require.Equal(t, c.video, s.tracks[media.KindVideo].Codec)
					require.GreaterOrEqual(t, s.frames[media.KindVideo], c.minV)
				} else {
					require.Nil(t, s.tracks[media.KindVideo])
				}
				require.Equal(t, c.audio, s.tracks[media.KindAudio].Codec)
				require.GreaterOrEqual(t, s.frames[media.KindAudio], c.minA)
			})
		}
	}
}

// TestPullHLS plays a VOD playlist (TS segments) over HTTP.
func TestPullHLS(t *testing.T) {
	srv := serveDir(t, "../../demux/hls/testdata/ts", false)
	s := newSink()
	var got Format
	err := Pull(context.Background(), Config{URL: srv.URL + "/master.m3u8", Client: localClient(t), Sink: s, OnFormat: func(f Format) { got = f }})
	require.NoError(t, err)
	require.Equal(t, FormatHLS, got)
	require.Greater(t, s.frames[media.KindVideo], 20)
	require.Greater(t, s.frames[media.KindAudio], 20)
}

// TestPullErrors: what a user sees for a dead URL, a page that is not
// media, a truncated file and an unsupported scheme.
func TestPullErrors(t *testing.T) {
	b, err := os.ReadFile("../../demux/mp4/testdata/h264_aac_faststart.mp4")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page.mp4":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<!doctype html><title>Sign in</title>"))
		case "/cut.mp4":
			http.ServeContent(w, r, "cut.mp4", time.Time{}, bytes.NewReader(b[:len(b)*2/3]))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	cl := localClient(t)

	err = Pull(ctx, Config{URL: srv.URL + "/missing.mp4", Client: cl, Sink: newSink()})
	require.ErrorIs(t, err, ErrHTTP)
	require.Contains(t, err.Error(), "404")

	err = Pull(ctx, Config{URL: srv.URL + "/page.mp4", Client: cl, Sink: newSink()})
	require.ErrorIs(t, err, ErrNotMedia)
	require.Contains(t, err.Error(), "text/html")

	err = Pull(ctx, Config{URL: srv.URL + "/cut.mp4", Client: cl, Sink: newSink()})
	require.Error(t, err)
	require.Contains(t, err.Error(), "truncated")

	err = Pull(ctx, Config{URL: "ftp://example.invalid/a.mp4", Client: cl, Sink: newSink()})
	require.True(t, errors.Is(err, ErrUnsupportedScheme))
}
