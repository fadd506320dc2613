package mp3

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

	"github.com/tributary-ingress/tributary/media"
)

var update = flag.Bool("update", false, "rewrite the golden dumps in testdata/golden")

// fileCase is one real file from testdata/gen.sh.
type fileCase struct {
	name       string
	file       string
	sampleRate int
	channels   int
	// samplesPerFrame is 1152 for MPEG-1, 576 for MPEG-2 Layer III.
	samplesPerFrame int
	frames          int
}

var cases = []fileCase{
	{name: "ffmpeg_cbr_44k_id3v23", file: "cbr_44k.mp3", sampleRate: 44100, channels: 2, samplesPerFrame: 1152, frames: 40},
	{name: "ffmpeg_vbr_48k_id3v24", file: "vbr_48k.mp3", sampleRate: 48000, channels: 1, samplesPerFrame: 1152, frames: 43},
	{name: "ffmpeg_lsf_22k", file: "lsf_22k.mp3", sampleRate: 22050, channels: 1, samplesPerFrame: 576, frames: 41},
	{name: "gst_lame_id3v2", file: "gst_lame.mp3", sampleRate: 32000, channels: 2, samplesPerFrame: 1152, frames: 14},
}

type demuxed struct {
	tracks []*media.Track
	frames []*media.Frame
}

func demuxBytes(in []byte) (*demuxed, error) {
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
	}
	if err := d.Initialize(); err != nil {
		return r, err
	}
	return r, d.Run(context.Background(), bytes.NewReader(in))
}

func (r *demuxed) dump() string {
	var b strings.Builder
	for _, t := range r.tracks {
		fmt.Fprintf(&b, "track id=%d %s %s clock=%d rate=%d channels=%d\n",
			t.ID, t.Kind, t.Codec, t.ClockRate, t.SampleRate, t.Channels)
	}
	for _, f := range r.frames {
		fmt.Fprintf(&b, "pts=%d %d %x\n", f.PTS, len(f.Data[0]), f.Data[0][:4])
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

// probePacket is one packet of ffprobe -show_packets (testdata/gen.sh).
type probePacket struct {
	pts, duration int64
	size          int
}

func readProbe(t testing.TB, name string) (timebase int64, pks []probePacket) {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(readTestdata(t, name+".packets.csv")))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	require.NoError(t, err)
	atoi := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, s)
		return v
	}
	for _, rec := range recs {
		switch {
		case rec[0] == "stream":
			timebase = atoi(strings.TrimPrefix(rec[2], "1/"))
		case len(rec) >= 6:
			pks = append(pks, probePacket{pts: atoi(rec[1]), duration: atoi(rec[3]), size: int(atoi(rec[4]))})
		}
	}
	return timebase, pks
}

func checkInvariants(t testing.TB, r *demuxed) {
	t.Helper()
	require.LessOrEqual(t, len(r.tracks), 1)
	last := int64(-1)
	for i, f := range r.frames {
		require.Same(t, r.tracks[0], f.Track)
		require.Len(t, f.Data, 1)
		require.NotEmpty(t, f.Data[0], "frame %d", i)
		require.LessOrEqual(t, len(f.Data[0]), maxFrameSize)
		require.True(t, f.Key)
		require.Equal(t, f.PTS, f.DTS)
		require.Greater(t, f.PTS, last, "frame %d", i)
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
			require.Equal(t, media.CodecMP3, tr.Codec)
			require.Equal(t, ca.sampleRate, tr.SampleRate)
			require.Equal(t, ca.sampleRate, tr.ClockRate)
			require.Equal(t, ca.channels, tr.Channels)
			require.Len(t, r.frames, ca.frames)

			// ffprobe agrees on every packet (it skips the Info frame too).
			tb, pks := readProbe(t, ca.file)
			require.Len(t, pks, len(r.frames))
			for i, f := range r.frames {
				require.Equal(t, pks[i].size, len(f.Data[0]), "frame %d", i)
				require.Equal(t, int64(i*ca.samplesPerFrame), f.PTS, "frame %d", i)
				require.Equal(t, media.Rescale(pks[i].pts-pks[0].pts, int(tb), ca.sampleRate), f.PTS, "frame %d", i)
				require.Equal(t, media.Rescale(pks[i].duration, int(tb), ca.sampleRate), int64(ca.samplesPerFrame))
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			in := readTestdata(t, ca.file)
			full, err := demuxBytes(in)
			require.NoError(t, err)
			// Cut inside a frame in the middle.
			cut := len(in)/2 + 7
			r, err := demuxBytes(in[:cut])
			require.ErrorIs(t, err, ErrTruncated)
			require.NotEmpty(t, r.frames)
			require.Less(t, len(r.frames), len(full.frames))
			checkInvariants(t, r)
		})
	}
	// Cut inside the ID3v2 tag.
	_, err := demuxBytes(readTestdata(t, "cbr_44k.mp3")[:20])
	require.ErrorIs(t, err, ErrTruncated)
}

func TestUnsupportedCodec(t *testing.T) {
	_, err := demuxBytes(readTestdata(t, "layer2.mp3"))
	require.ErrorIs(t, err, ErrUnsupportedCodec)
	require.EqualError(t, err, "unsupported audio codec: MPEG-1 Audio Layer II")
}

func TestMalformed(t *testing.T) {
	for _, ca := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"text", []byte("<html><body>404 Not Found</body></html>\n")},
		{"zeros", make([]byte, MaxResyncBytes+10)},
		{"mp4", readTestdata(t, "../../mp4/testdata/ac3.mp4")},
	} {
		t.Run(ca.name, func(t *testing.T) {
			_, err := demuxBytes(ca.in)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

// TestJunkAndTags checks resync over junk between frames, and tags at the
// end (ID3v1, APEv2) and between frames (ID3v2).
func TestJunkAndTags(t *testing.T) {
	in := readTestdata(t, "cbr_44k.mp3")
	full, err := demuxBytes(in)
	require.NoError(t, err)
	// The offset of the 10th frame.
	p := bytes.Index(in, full.frames[10].Data[0])
	id3 := []byte{'I', 'D', '3', 4, 0, 0, 0, 0, 0, 3, 1, 2, 3}
	var edited []byte
	edited = append(edited, in[:p]...)
	edited = append(edited, "junk\xff\xfb"...)
	edited = append(edited, id3...)
	edited = append(edited, in[p:]...)
	edited = append(edited, append([]byte("TAG"), make([]byte, id3v1Size-3)...)...)
	ape := make([]byte, apeHeaderSize)
	copy(ape, "APETAGEX")
	edited = append(edited, ape...)
	r, err := demuxBytes(edited)
	require.NoError(t, err)
	require.Equal(t, full.dump(), r.dump())
}

func TestCallbackError(t *testing.T) {
	stop := errors.New("stop")
	d := &Demuxer{OnTrack: func(*media.Track) error { return nil }, OnFrame: func(*media.Frame) error { return stop }}
	require.NoError(t, d.Initialize())
	require.Same(t, stop, d.Run(context.Background(), bytes.NewReader(readTestdata(t, "cbr_44k.mp3"))))
	require.Error(t, (&Demuxer{}).Initialize())
}
