package ogg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/opus"
	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// cases are the real files of testdata/gen.sh.
var cases = []demuxtest.FileCase{
	{Name: "ffmpeg_opus_stereo", File: "opus_stereo.ogg", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecOpus, 48000, 2, 51)}},
	{Name: "ffmpeg_opus_mono_60ms", File: "opus_mono_60ms.ogg", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecOpus, 48000, 1, 17)}},
	{Name: "ffmpeg_vorbis_44k", File: "vorbis_44k.ogg", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecVorbis, 44100, 2, 45)}},
	{Name: "gst_opusenc", File: "gst_opus.ogg", Tracks: []demuxtest.Track{demuxtest.Audio(media.CodecOpus, 48000, 2, 22)}},
}

type demuxed struct{ demuxtest.Collector }

func demuxInput(in []byte, skipCRC bool) (*demuxed, error) {
	r := &demuxed{}
	return r, demuxtest.RunBytes(&Demuxer{OnTrack: r.OnTrack, OnFrame: r.OnFrameAfterTrack, skipCRC: skipCRC}, in)
}

func demuxBytes(in []byte) (*demuxed, error) { return demuxInput(in, false) }

// Dump renders the golden text dump of r.
func (r *demuxed) Dump() string {
	var b strings.Builder
	for _, t := range r.Tracks {
		fmt.Fprintf(&b, "track id=%d %s %s clock=%d rate=%d channels=%d config=%d bytes\n",
			t.ID, t.Kind, t.Codec, t.ClockRate, t.SampleRate, t.Channels, len(t.Config))
	}
	for _, f := range r.Frames {
		fmt.Fprintf(&b, "pts=%d %d\n", f.PTS, len(f.Data[0]))
	}
	return b.String()
}

func checkInvariants(t testing.TB, r *demuxed) {
	t.Helper()
	require.LessOrEqual(t, len(r.Tracks), 1)
	last := int64(0)
	for i, f := range r.Frames {
		require.Same(t, r.Tracks[0], f.Track)
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
	demuxtest.RunFileCases(t, cases, demuxBytes, func(t *testing.T, ca demuxtest.FileCase, _ []byte, r *demuxed) {
		checkInvariants(t, r)
		tr := r.Tracks[0]
		require.Zero(t, r.Frames[0].PTS)
		// Every Opus PTS must equal ffprobe's; Vorbis PTS are spread over
		// each page and only match at page ends.
		exact := tr.Codec == media.CodecOpus

		pks := demuxtest.ReadProbe(t, ca.File, "stream_index", "pts", "dts", "duration", "size").Packets
		require.Len(t, pks, len(r.Frames))
		for i, f := range r.Frames {
			require.Equal(t, pks[i].Size, len(f.Data[0]), "frame %d", i)
			if exact {
				require.Equal(t, pks[i].PTS-pks[0].PTS, f.PTS, "frame %d", i)
			}
		}
		last := pks[len(pks)-1]
		end := r.Frames[len(r.Frames)-1].PTS
		tolerance := float64(last.Duration) + 1
		if !exact {
			tolerance = 2048 // a long Vorbis block
		}
		require.InDelta(t, last.PTS-pks[0].PTS, end, tolerance, "last PTS")

		switch tr.Codec {
		case media.CodecOpus:
			h, err := opus.ParseHead(tr.Config)
			require.NoError(t, err)
			require.Equal(t, tr.Channels, h.Channels)
			require.Positive(t, h.PreSkip)
		case media.CodecVorbis:
			checkXiphLacing(t, tr.Config)
		}
	})
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
		t.Run(ca.Name, func(t *testing.T) {
			in := ca.Read(t)
			full, err := demuxBytes(in)
			require.NoError(t, err)
			for _, cut := range []int{len(in) / 2, len(in) - 10} {
				r, err := demuxBytes(in[:cut])
				require.ErrorIs(t, err, demux.ErrTruncated, "cut at %d", cut)
				require.Less(t, len(r.Frames), len(full.Frames))
				checkInvariants(t, r)
			}
		})
	}
}

func TestUnsupportedCodec(t *testing.T) {
	_, err := demuxBytes(demuxtest.ReadTestdata(t, "flac.ogg"))
	require.ErrorIs(t, err, demux.ErrUnsupportedCodec)
	require.EqualError(t, err, "unsupported audio codec in Ogg: FLAC")
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
			require.ErrorIs(t, err, demux.ErrMalformed)
		})
	}
}

// TestDamagedPage checks that a page with a bad CRC is dropped with the
// packets it breaks, and the stream goes on.
func TestDamagedPage(t *testing.T) {
	in := bytes.Clone(demuxtest.ReadTestdata(t, "opus_stereo.ogg"))
	full, err := demuxBytes(in)
	require.NoError(t, err)
	p := bytes.Index(in[len(in)/2:], []byte("OggS")) + len(in)/2
	in[p+40] ^= 0xff
	r, err := demuxBytes(in)
	require.NoError(t, err)
	require.Less(t, len(r.Frames), len(full.Frames))
	require.Greater(t, len(r.Frames), len(full.Frames)/2)
	checkInvariants(t, r)
}

func TestCallbackError(t *testing.T) {
	stop := errors.New("stop")
	d := &Demuxer{OnTrack: func(*media.Track) error { return stop }, OnFrame: func(*media.Frame) error { return nil }}
	require.NoError(t, d.Initialize())
	require.Same(t, stop, d.Run(context.Background(), bytes.NewReader(demuxtest.ReadTestdata(t, "vorbis_44k.ogg"))))
	require.Error(t, (&Demuxer{}).Initialize())
}
