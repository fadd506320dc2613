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
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// cases are the real files of testdata/gen.sh.
var cases = []demuxtest.FileCase{
	{Name: "ffmpeg_cbr_44k_id3v23", File: "cbr_44k.mp3", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecMP3, 44100, 2, 40)}},
	{Name: "ffmpeg_vbr_48k_id3v24", File: "vbr_48k.mp3", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecMP3, 48000, 1, 43)}},
	{Name: "ffmpeg_lsf_22k", File: "lsf_22k.mp3", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecMP3, 22050, 1, 41)}},
	{Name: "gst_lame_id3v2", File: "gst_lame.mp3", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecMP3, 32000, 2, 14)}},
}

type demuxed struct{ demuxtest.Collector }

func demuxBytes(in []byte) (*demuxed, error) {
	r := &demuxed{}
	return r, demuxtest.RunBytes(&Demuxer{OnTrack: r.OnTrack, OnFrame: r.OnFrameAfterTrack}, in)
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
	demuxtest.RunFileCases(t, cases, demuxBytes, func(t *testing.T, ca demuxtest.FileCase, _ []byte, r *demuxed) {
		checkInvariants(t, r)
		rate := r.Tracks[0].SampleRate
		// MPEG-1 (32 kHz and above) has 1152 samples a frame, MPEG-2 LSF
		// Layer III 576.
		samplesPerFrame := 1152
		if rate < 32000 {
			samplesPerFrame = 576
		}

		// ffprobe agrees on every packet (it skips the Info frame too).
		p := demuxtest.ReadProbe(t, ca.File, "stream_index", "pts", "dts", "duration", "size", "flags")
		tb, pks := p.Timebase[0], p.Packets
		require.Len(t, pks, len(r.Frames))
		for i, f := range r.Frames {
			require.Equal(t, pks[i].Size, len(f.Data[0]), "frame %d", i)
			require.Equal(t, int64(i*samplesPerFrame), f.PTS, "frame %d", i)
			require.Equal(t, media.Rescale(pks[i].PTS-pks[0].PTS, int(tb), rate), f.PTS, "frame %d", i)
			require.Equal(t, media.Rescale(pks[i].Duration, int(tb), rate), int64(samplesPerFrame))
		}
	})
}

func TestTruncated(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.Name, func(t *testing.T) {
			in := ca.Read(t)
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
