package mp3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

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

type demuxed struct{ demuxtest.Collector }

func demuxBytes(in []byte) (*demuxed, error) {
	r := &demuxed{}
	d := &Demuxer{OnTrack: r.OnTrack, OnFrame: r.OnFrameAfterTrack}
	if err := d.Initialize(); err != nil {
		return r, err
	}
	return r, d.Run(context.Background(), bytes.NewReader(in))
}

// Dump renders the golden text dump of r.
func (r *demuxed) Dump() string {
	var b strings.Builder
	for _, t := range r.Tracks {
		fmt.Fprintf(&b, "track id=%d %s %s clock=%d rate=%d channels=%d\n",
			t.ID, t.Kind, t.Codec, t.ClockRate, t.SampleRate, t.Channels)
	}
	for _, f := range r.Frames {
		fmt.Fprintf(&b, "pts=%d %d %x\n", f.PTS, len(f.Data[0]), f.Data[0][:4])
	}
	return b.String()
}

func checkInvariants(t testing.TB, r *demuxed) {
	t.Helper()
	require.LessOrEqual(t, len(r.Tracks), 1)
	last := int64(-1)
	for i, f := range r.Frames {
		require.Same(t, r.Tracks[0], f.Track)
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
			in := demuxtest.ReadTestdata(t, ca.file)
			clone := bytes.Clone(in)
			r, err := demuxBytes(in)
			require.NoError(t, err)
			require.Equal(t, clone, in, "input mutated")
			demuxtest.CheckGolden(t, ca.name, r.Dump())
			checkInvariants(t, r)

			require.Len(t, r.Tracks, 1)
			tr := r.Tracks[0]
			require.Equal(t, media.CodecMP3, tr.Codec)
			require.Equal(t, ca.sampleRate, tr.SampleRate)
			require.Equal(t, ca.sampleRate, tr.ClockRate)
			require.Equal(t, ca.channels, tr.Channels)
			require.Len(t, r.Frames, ca.frames)

			// ffprobe agrees on every packet (it skips the Info frame too).
			p := demuxtest.ReadProbe(t, ca.file, "stream_index", "pts", "dts", "duration", "size", "flags")
			tb, pks := p.Timebase[0], p.Packets
			require.Len(t, pks, len(r.Frames))
			for i, f := range r.Frames {
				require.Equal(t, pks[i].Size, len(f.Data[0]), "frame %d", i)
				require.Equal(t, int64(i*ca.samplesPerFrame), f.PTS, "frame %d", i)
				require.Equal(t, media.Rescale(pks[i].PTS-pks[0].PTS, int(tb), ca.sampleRate), f.PTS, "frame %d", i)
				require.Equal(t, media.Rescale(pks[i].Duration, int(tb), ca.sampleRate), int64(ca.samplesPerFrame))
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			in := demuxtest.ReadTestdata(t, ca.file)
			full, err := demuxBytes(in)
			require.NoError(t, err)
			// Cut inside a frame in the middle.
			cut := len(in)/2 + 7
			r, err := demuxBytes(in[:cut])
			require.ErrorIs(t, err, demux.ErrTruncated)
			require.NotEmpty(t, r.Frames)
			require.Less(t, len(r.Frames), len(full.Frames))
			checkInvariants(t, r)
		})
	}
	// Cut inside the ID3v2 tag.
	_, err := demuxBytes(demuxtest.ReadTestdata(t, "cbr_44k.mp3")[:20])
	require.ErrorIs(t, err, demux.ErrTruncated)
}

// TestLayerII: an MP2 file (ffmpeg's, 0.2 s at 48 kHz) is one MP2 track
// of 1152-sample frames.
func TestLayerII(t *testing.T) {
	r, err := demuxBytes(demuxtest.ReadTestdata(t, "layer2.mp3"))
	require.NoError(t, err)
	require.Len(t, r.Tracks, 1)
	require.Equal(t, media.CodecMP2, r.Tracks[0].Codec)
	require.Equal(t, 48000, r.Tracks[0].SampleRate)
	require.Len(t, r.Frames, 9, "as many as ffprobe counts")
	for i, f := range r.Frames {
		require.Equal(t, int64(1152*i), f.PTS)
	}
}

func TestMalformed(t *testing.T) {
	for _, ca := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"text", []byte("<html><body>404 Not Found</body></html>\n")},
		{"zeros", make([]byte, MaxResyncBytes+10)},
		{"mp4", demuxtest.ReadTestdata(t, "../../mp4/testdata/ac3.mp4")},
	} {
		t.Run(ca.name, func(t *testing.T) {
			_, err := demuxBytes(ca.in)
			require.ErrorIs(t, err, demux.ErrMalformed)
		})
	}
}

// TestJunkAndTags checks resync over junk between frames, and tags at the
// end (ID3v1, APEv2) and between frames (ID3v2).
func TestJunkAndTags(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "cbr_44k.mp3")
	full, err := demuxBytes(in)
	require.NoError(t, err)
	// The offset of the 10th frame.
	p := bytes.Index(in, full.Frames[10].Data[0])
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
	require.Equal(t, full.Dump(), r.Dump())
}

func TestCallbackError(t *testing.T) {
	stop := errors.New("stop")
	d := &Demuxer{OnTrack: func(*media.Track) error { return nil }, OnFrame: func(*media.Frame) error { return stop }}
	require.NoError(t, d.Initialize())
	require.Same(t, stop, d.Run(context.Background(), bytes.NewReader(demuxtest.ReadTestdata(t, "cbr_44k.mp3"))))
	require.Error(t, (&Demuxer{}).Initialize())
}
