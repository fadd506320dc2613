package demux_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/demux/flv"
	"github.com/tributary-ingress/tributary/demux/hls"
	"github.com/tributary-ingress/tributary/demux/mkv"
	"github.com/tributary-ingress/tributary/demux/mp4"
	"github.com/tributary-ingress/tributary/demux/ogg"
	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/demux/wav"
	"github.com/tributary-ingress/tributary/internal/testutil"
	"github.com/tributary-ingress/tributary/media"
)

func nop(*media.Track) error  { return nil }
func nopF(*media.Frame) error { return nil }

// run demuxes the file at path with the demuxer of container.
func run(t *testing.T, container, path string) error {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	ctx, r := context.Background(), bytes.NewReader(b)
	type demuxer interface {
		Initialize() error
		Run(context.Context, io.Reader) error
	}
	var d demuxer
	switch container {
	case "flv":
		rd := &flv.Reader{R: r, Demuxer: &flv.Demuxer{OnTrack: nop, OnFrame: nopF}}
		require.NoError(t, rd.Initialize())
		return rd.ReadAll()
	case "mp4":
		d := &mp4.Demuxer{OnTrack: nop, OnFrame: nopF}
		require.NoError(t, d.Initialize())
		return d.Run(ctx, r, int64(len(b)))
	case "hls":
		d = &hls.Demuxer{URL: "file://" + path, Fetcher: fileFetcher{}, OnTrack: nop, OnFrame: nopF}
	case "matroska":
		d = &mkv.Demuxer{OnTrack: nop, OnFrame: nopF}
	case "ogg":
		d = &ogg.Demuxer{OnTrack: nop, OnFrame: nopF}
	case "mpegts":
		d = &ts.Demuxer{OnTrack: nop, OnFrame: nopF}
	case "wav":
		d = &wav.Demuxer{OnTrack: nop, OnFrame: nopF}
	}
	require.NoError(t, d.Initialize())
	return d.Run(ctx, r)
}

// fileFetcher serves file:// URLs.
type fileFetcher struct{}

func (fileFetcher) Get(_ context.Context, url string) (io.ReadCloser, error) {
	return os.Open(strings.TrimPrefix(url, "file://"))
}

// TestUnsupportedCodec: every demuxer refuses a real file (ffmpeg's) of a
// codec it does not demux with an error that matches
// demux.ErrUnsupportedCodec, is a *demux.Error naming the container, the
// kind and the codec, and says so in its text. (demux/mp3 has one codec
// and no such error: anything else is not MP3.)
func TestUnsupportedCodec(t *testing.T) {
	ffmpeg := testutil.FFmpeg(t)
	video := []string{"-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-t", "0.5"}
	audio := []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "0.5"}
	for _, ca := range []struct {
		container string // ffmpeg's muxer
		input     []string
		codec     string // ffmpeg's encoder
		kind      media.Kind
		name      string // in the error
		track     string // in the error
	}{
		{"flv", video, "flv1", media.KindVideo, "Sorenson H.263 (FLV codec id 2)", ""},
		{"matroska", video, "mpeg4", media.KindVideo, "V_MPEG4/ISO/ASP", "track 1"},
		{"mp4", audio, "alac", media.KindAudio, "ALAC ('alac')", ""},
		{"mpegts", video, "mpeg4", media.KindVideo, "MPEG-4 Part 2 video (stream type 0x10)", "PID 256"},
		{"hls", video, "mpeg4", media.KindVideo, "MPEG-4 Part 2 video (stream type 0x10)", "PID 256"},
		{"ogg", audio, "flac", media.KindAudio, "FLAC", ""},
		{"wav", audio, "adpcm_ms", media.KindAudio, "WAV format 0x0002", ""},
	} {
		t.Run(ca.container, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.m3u8") // the name matters to the hls muxer only
			args := append([]string{"-v", "error"}, ca.input...)
			args = append(args, "-c:"+ca.kind.String()[:1], ca.codec, "-f", ca.container, path)
			out, err := exec.Command(ffmpeg, args...).CombinedOutput()
			require.NoError(t, err, "%s", out)

			err = run(t, ca.container, path)
			require.ErrorIs(t, err, demux.ErrUnsupportedCodec)
			require.True(t, demux.IsInputError(err))
			var de *demux.Error
			require.True(t, errors.As(err, &de))
			require.Equal(t, ca.kind, de.Kind)
			require.Contains(t, de.Codec, ca.name)
			require.Equal(t, ca.track, de.Track)
			require.Contains(t, err.Error(), "unsupported "+ca.kind.String()+" codec in "+string(de.Container)+": "+ca.name)
		})
	}
}

// TestErrorText: what each reason says, and that an input over a bound
// is refused as malformed too.
func TestErrorText(t *testing.T) {
	const c = demux.Container("MPEG-TS")
	for _, ca := range []struct {
		err     error
		text    string
		reasons []error
	}{
		{c.Malformed("sync byte 0x%02x", 0x48), "malformed MPEG-TS: sync byte 0x48", []error{demux.ErrMalformed}},
		{c.Truncated("PES of %d bytes", 7), "truncated MPEG-TS: PES of 7 bytes", []error{demux.ErrTruncated}},
		{c.OverLimit("more than %d", 3), "MPEG-TS: over a limit: more than 3", []error{demux.ErrOverLimit, demux.ErrMalformed}},
		{c.NoTracks("program %d", 1), "MPEG-TS: no supported audio or video track: program 1", []error{demux.ErrNoTracks}},
		{c.UnsupportedCodec(media.KindAudio, "AC-4", "PID 257"), "unsupported audio codec in MPEG-TS: AC-4 on PID 257", []error{demux.ErrUnsupportedCodec}},
	} {
		require.EqualError(t, ca.err, ca.text)
		for _, r := range []error{demux.ErrMalformed, demux.ErrTruncated, demux.ErrOverLimit, demux.ErrNoTracks, demux.ErrUnsupportedCodec} {
			require.Equal(t, slices.Contains(ca.reasons, r), errors.Is(ca.err, r), "%v is %v", ca.err, r)
		}
	}
	cause := io.ErrUnexpectedEOF
	require.ErrorIs(t, c.Truncated("header: %w", cause), cause, "a cause wrapped with %%w stays reachable")
	require.False(t, demux.IsInputError(errors.New("callback")))
}
