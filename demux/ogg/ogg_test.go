package ogg

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/opus"
	"github.com/tributary-ingress/tributary/media"
)

var update = flag.Bool("update", false, "rewrite the golden dumps in testdata/golden")

// fileCase is one real file from testdata/gen.sh.
type fileCase struct {
	name       string
	file       string
	codec      media.CodecID
	sampleRate int
	channels   int
	frames     int
	// exact is true when every PTS must equal ffprobe's (Opus); Vorbis
	// PTS are spread over each page and only match at page ends.
	exact bool
}

var cases = []fileCase{
	{name: "ffmpeg_opus_stereo", file: "opus_stereo.ogg", codec: media.CodecOpus, sampleRate: 48000, channels: 2, frames: 51, exact: true},
	{name: "ffmpeg_opus_mono_60ms", file: "opus_mono_60ms.ogg", codec: media.CodecOpus, sampleRate: 48000, channels: 1, frames: 17, exact: true},
	{name: "ffmpeg_vorbis_44k", file: "vorbis_44k.ogg", codec: media.CodecVorbis, sampleRate: 44100, channels: 2, frames: 45},
	{name: "gst_opusenc", file: "gst_opus.ogg", codec: media.CodecOpus, sampleRate: 48000, channels: 2, frames: 22, exact: true},
}

type demuxed struct {
	tracks []*media.Track
	frames []*media.Frame
}

func demux(in []byte, skipCRC bool) (*demuxed, error) {
	r := &demuxed{}
	d := &Demuxer{
		OnTrack: func(t *media.Track) error { r.tracks = append(r.tracks, t); return nil },
		OnFrame: func(f *media.Frame) error {
			if len(r.tracks) == 0 {
				return errors.New("frame before track")
			}
			r.frames = append(r.frames, f)
			return nil
		},
		skipCRC: skipCRC,
	}
	if err := d.Initialize(); err != nil {
		return r, err
	}
	return r, d.Run(context.Background(), bytes.NewReader(in))
}

func demuxBytes(in []byte) (*demuxed, error) { return demux(in, false) }

func (r *demuxed) dump() string {
	var b strings.Builder
	for _, t := range r.tracks {
		fmt.Fprintf(&b, "track id=%d %s %s clock=%d rate=%d channels=%d config=%d bytes\n",
			t.ID, t.Kind, t.Codec, t.ClockRate, t.SampleRate, t.Channels, len(t.Config))
	}
	for _, f := range r.frames {
		fmt.Fprintf(&b, "pts=%d %d\n", f.PTS, len(f.Data[0]))
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	require.Equal(t, string(want), got)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

type probePacket struct {
	pts, duration int64
	size          int
}

func readProbe(t testing.TB, name string) []probePacket {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(readTestdata(t, name+".packets.csv")))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	require.NoError(t, err)
	var pks []probePacket
	for _, rec := range recs {
		if rec[0] == "stream" || len(rec) < 5 {
			continue
		}
		v := make([]int64, 5)
		for i := range v {
			v[i], err = strconv.ParseInt(rec[i], 10, 64)
			require.NoError(t, err)
		}
		pks = append(pks, probePacket{pts: v[1], duration: v[3], size: int(v[4])})
	}
	return pks
}

func checkInvariants(t testing.TB, r *demuxed) {
	t.Helper()
	require.LessOrEqual(t, len(r.tracks), 1)
	last := int64(0)
	for i, f := range r.frames {
		require.Same(t, r.tracks[0], f.Track)
		require.Len(t, f.Data, 1)
		require.NotEmpty(t, f.Data[0], "frame %d", i)
		require.LessOrEqual(t, len(f.Data[0]), MaxPacketSize)
		require.True(t, f.Key)
		require.Equal(t, f.PTS, f.DTS)
		require.GreaterOrEqual(t, f.PTS, last, "frame %d", i)
		last = f.PTS
	}
}

func TestDemuxFiles(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			in := readTestdata(t, ca.file)
			clone := bytes.Clone(in)
			r, err := demuxBytes(in)
			require.NoError(t, err)
			require.Equal(t, clone, in, "input mutated")
			checkGolden(t, ca.name, r.dump())
			checkInvariants(t, r)

			require.Len(t, r.tracks, 1)
			tr := r.tracks[0]
			require.Equal(t, ca.codec, tr.Codec)
			require.Equal(t, ca.sampleRate, tr.SampleRate)
			require.Equal(t, ca.sampleRate, tr.ClockRate)
			require.Equal(t, ca.channels, tr.Channels)
			require.Len(t, r.frames, ca.frames)
			require.Zero(t, r.frames[0].PTS)

			pks := readProbe(t, ca.file)
			require.Len(t, pks, len(r.frames))
			for i, f := range r.frames {
				require.Equal(t, pks[i].size, len(f.Data[0]), "frame %d", i)
				if ca.exact {
					require.Equal(t, pks[i].pts-pks[0].pts, f.PTS, "frame %d", i)
				}
			}
			last := pks[len(pks)-1]
			end := r.frames[len(r.frames)-1].PTS
			tolerance := float64(last.duration) + 1
			if !ca.exact {
				tolerance = 2048 // a long Vorbis block
			}
			require.InDelta(t, last.pts-pks[0].pts, end, tolerance, "last PTS")

			switch ca.codec {
			case media.CodecOpus:
				h, err := opus.ParseHead(tr.Config)
				require.NoError(t, err)
				require.Equal(t, ca.channels, h.Channels)
				require.Positive(t, h.PreSkip)
			case media.CodecVorbis:
				checkXiphLacing(t, tr.Config)
			}
		})
	}
}

// checkXiphLacing unpacks the Vorbis extradata and finds the three headers.
func checkXiphLacing(t *testing.T, c []byte) {
	require.Equal(t, byte(2), c[0])
	pos, sizes := 1, []int{}
	for range 2 {
		n := 0
		for c[pos] == 255 {
			n += 255
			pos++
		}
		n += int(c[pos])
		pos++
		sizes = append(sizes, n)
	}
	h1 := c[pos : pos+sizes[0]]
	h2 := c[pos+sizes[0] : pos+sizes[0]+sizes[1]]
	h3 := c[pos+sizes[0]+sizes[1]:]
	require.True(t, bytes.HasPrefix(h1, []byte("\x01vorbis")))
	require.True(t, bytes.HasPrefix(h2, []byte("\x03vorbis")))
	require.True(t, bytes.HasPrefix(h3, []byte("\x05vorbis")))
}

func TestTruncated(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			in := readTestdata(t, ca.file)
			full, err := demuxBytes(in)
			require.NoError(t, err)
			for _, cut := range []int{len(in) / 2, len(in) - 10} {
				r, err := demuxBytes(in[:cut])
				require.ErrorIs(t, err, ErrTruncated, "cut at %d", cut)
				require.Less(t, len(r.frames), len(full.frames))
				checkInvariants(t, r)
			}
		})
	}
}

func TestUnsupportedCodec(t *testing.T) {
	_, err := demuxBytes(readTestdata(t, "flac.ogg"))
	require.ErrorIs(t, err, ErrUnsupportedCodec)
	require.EqualError(t, err, "unsupported audio codec: FLAC")
}

func TestMalformed(t *testing.T) {
	for _, ca := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"text", []byte("<html><body>404 Not Found</body></html>\n")},
		{"mp3", []byte("ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00")},
	} {
		t.Run(ca.name, func(t *testing.T) {
			_, err := demuxBytes(ca.in)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

// TestDamagedPage checks that a page with a bad CRC is dropped with the
// packets it breaks, and the stream goes on.
func TestDamagedPage(t *testing.T) {
	in := bytes.Clone(readTestdata(t, "opus_stereo.ogg"))
	full, err := demuxBytes(in)
	require.NoError(t, err)
	p := bytes.Index(in[len(in)/2:], []byte("OggS")) + len(in)/2
	in[p+40] ^= 0xff
	r, err := demuxBytes(in)
	require.NoError(t, err)
	require.Less(t, len(r.frames), len(full.frames))
	require.Greater(t, len(r.frames), len(full.frames)/2)
	checkInvariants(t, r)
}

func TestCallbackError(t *testing.T) {
	stop := errors.New("stop")
	d := &Demuxer{OnTrack: func(*media.Track) error { return stop }, OnFrame: func(*media.Frame) error { return nil }}
	require.NoError(t, d.Initialize())
	require.Same(t, stop, d.Run(context.Background(), bytes.NewReader(readTestdata(t, "vorbis_44k.ogg"))))
	require.Error(t, (&Demuxer{}).Initialize())
}
