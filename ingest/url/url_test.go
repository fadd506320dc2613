package url

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSniff(t *testing.T) {
	ts := make([]byte, 188*3)
	ts[0], ts[188], ts[376] = 0x47, 0x47, 0x47
	cases := []struct {
		name string
		b    []byte
		ct   string
		path string
		want Format
	}{
		{"mp4 ftyp", []byte("\x00\x00\x00\x20ftypisom"), "", "/x.bin", FormatMP4},
		{"mov moov first", []byte("\x00\x00\x01\x00moovxxxx"), "", "", FormatMP4},
		{"webm", []byte{0x1a, 0x45, 0xdf, 0xa3, 1, 2}, "", "/a.mp4", FormatMKV},
		{"ogg", []byte("OggS\x00\x02"), "", "", FormatOgg},
		{"flv", []byte("FLV\x01\x05"), "", "", FormatFLV},
		{"wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), "", "", FormatWAV},
		{"rf64", []byte("RF64\xff\xff\xff\xffWAVEds64"), "", "", FormatWAV},
		{"avi is not wav", []byte("RIFF\x24\x00\x00\x00AVI LIST"), "", "", FormatUnknown},
		{"hls", []byte("#EXTM3U\n#EXT-X-VERSION:3\n"), "text/plain", "/p", FormatHLS},
		{"hls with BOM", []byte("\ufeff#EXTM3U\n"), "", "", FormatHLS},
		{"ts", ts, "", "", FormatTS},
		{"mp3 id3", []byte("ID3\x03\x00"), "", "", FormatMP3},
		{"mp3 sync", []byte{0xff, 0xfb, 0x90, 0x00}, "", "", FormatMP3},
		{"html page", []byte("<!doctype html><html>"), "text/html", "/video.mp4", FormatUnknown},
		{"json error", []byte(`{"error":"denied"}`), "application/json", "/a.mp3", FormatUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, Sniff(c.b, c.ct, c.path))
		})
	}
}

func TestRangeReader(t *testing.T) {
	data := make([]byte, 3<<20+123)
	for i := range data {
		data[i] = byte(i * 31)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f.mp4", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	ctx := context.Background()
	r, ok, err := NewRangeReader(ctx, localClient(t), srv.URL+"/f.mp4")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(len(data)), r.Size())

	// Read the tail first (as for a moov at the end), then the start.
	buf := make([]byte, 100)
	n, err := r.ReadAt(buf, int64(len(data)-100))
	require.NoError(t, err)
	require.Equal(t, data[len(data)-100:], buf[:n])
	n, err = r.ReadAt(buf, 0)
	require.NoError(t, err)
	require.Equal(t, data[:100], buf[:n])
	// Sequential small reads are served from the read-ahead window.
	before := r.Requests
	for off := int64(100); off < 500_000; off += 100 {
		_, err := r.ReadAt(buf, off)
		require.NoError(t, err)
		require.Equal(t, data[off:off+100], buf)
	}
	require.Equal(t, before, r.Requests, "one window covers them")
	n, err = r.ReadAt(buf, int64(len(data)-10))
	require.Equal(t, 10, n)
	require.ErrorIs(t, err, io.EOF)
	require.Less(t, r.Fetched, int64(len(data)), "never the whole file")
}

func TestHTTPErrorsAndPrivate(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, _, err := NewRangeReader(context.Background(), localClient(t), srv.URL+"/missing.mp4?token=secret")
	require.ErrorIs(t, err, ErrHTTP)
	require.Contains(t, err.Error(), "404 (Not Found)")
	require.NotContains(t, err.Error(), "secret", "query strings are not echoed")

	_, _, err = NewRangeReader(context.Background(), nil, srv.URL+"/x.mp4")
	require.True(t, errors.Is(err, ErrPrivateAddress), "%v", err)
}

func TestLive(t *testing.T) {
	for raw, want := range map[string]bool{
		"srt://127.0.0.1:9000?streamid=x": true,
		"rtsp://cam.local/stream":         true,
		"rtsps://cam.local/stream":        true,
		"https://cdn.example/a.m3u8":      false,
		"http://host/file.mp4":            false,
	} {
		require.Equal(t, want, Live(raw), raw)
	}
}
