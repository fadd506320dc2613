package rtsp

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/rtsptest"
	"github.com/tributary-ingress/tributary/media"
)

// Parameter sets of a 64x64 constrained-baseline stream made by x264.
var (
	testSPS = mustHex("6742c00ada109b0110000003001000000303c8f1226a")
	testPPS = mustHex("68ce0fc8")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// recordSink records what a pull hands over and signals when it has
// enough frames of each kind.
type recordSink struct {
	mu     sync.Mutex
	tracks []*media.Track
	frames map[media.Kind][]*media.Frame
	want   int
	enough chan struct{}
	once   sync.Once
}

func newRecordSink(want int) *recordSink {
	return &recordSink{frames: map[media.Kind][]*media.Frame{}, want: want, enough: make(chan struct{})}
}

func (s *recordSink) Track(t *media.Track) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tracks = append(s.tracks, t)
	return nil
}

func (s *recordSink) Frame(f *media.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames[f.Track.Kind] = append(s.frames[f.Track.Kind], f)
	if len(s.frames[media.KindVideo]) >= s.want && len(s.frames[media.KindAudio]) >= s.want {
		s.once.Do(func() { close(s.enough) })
	}
	return nil
}

// TestPullH264AAC publishes H.264 (parameter sets only in the SDP, units
// fragmented in FU-A) and AAC from Go on gortsplib's server and pulls it.
func TestPullH264AAC(t *testing.T) {
	srv := rtsptest.Start(t)
	vf := &format.H264{PayloadTyp: 96, SPS: testSPS, PPS: testPPS, PacketizationMode: 1}
	af := &format.MPEG4Audio{PayloadTyp: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
		Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}}
	desc := &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{vf}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{af}},
	}}
	write, unpublish, err := srv.Publish("cam", desc)
	require.NoError(t, err)
	venc, err := vf.CreateEncoder()
	require.NoError(t, err)
	aenc, err := af.CreateEncoder()
	require.NoError(t, err)

	sink := newRecordSink(20)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pulled := make(chan error, 1)
	go func() { pulled <- Pull(ctx, Config{URL: srv.URL("cam"), Sink: sink}) }()

	// Write 30 fps video (an IDR every 10 frames, 3000-byte slices that
	// need FU-A) and 48 kHz AAC until the sink has enough, then end the
	// stream: the pull ends cleanly.
	idr := append([]byte{0x65}, make([]byte, 3000)...)
	p := append([]byte{0x41}, make([]byte, 300)...)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-sink.enough:
		case err := <-pulled:
			t.Fatalf("pull ended early: %v", err)
		case <-tick.C:
			au := [][]byte{p}
			if n%10 == 0 {
				au = [][]byte{idr}
			}
			pkts, err := venc.Encode(au)
			require.NoError(t, err)
			for _, pkt := range pkts {
				pkt.Timestamp += uint32(n * 3000)
				require.NoError(t, write(desc.Medias[0], pkt))
			}
			apkts, err := aenc.Encode([][]byte{{0x21, 0x10, 0x04}})
			require.NoError(t, err)
			for _, pkt := range apkts {
				pkt.Timestamp += uint32(n * 1024)
				require.NoError(t, write(desc.Medias[1], pkt))
			}
			continue
		}
		break
	}
	unpublish()
	select {
	case err := <-pulled:
		require.NoError(t, err, "the server ended the stream")
	case <-ctx.Done():
		t.Fatal("the pull did not end with the stream")
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	require.Len(t, sink.tracks, 2)
	var vt, at *media.Track
	for _, tr := range sink.tracks {
		if tr.Kind == media.KindVideo {
			vt = tr
		} else {
			at = tr
		}
	}
	require.Equal(t, media.CodecH264, vt.Codec)
	require.Equal(t, 90000, vt.ClockRate)
	require.Equal(t, 64, vt.Width)
	require.Equal(t, 64, vt.Height)
	var dc h264.DecoderConfig
	require.NoError(t, dc.Unmarshal(vt.Config))
	require.Equal(t, [][]byte{testSPS}, dc.SPS)
	require.Equal(t, [][]byte{testPPS}, dc.PPS)

	require.Equal(t, media.CodecAAC, at.Codec)
	require.Equal(t, 48000, at.ClockRate)
	require.Equal(t, 2, at.Channels)
	require.Equal(t, []byte{0x11, 0x90}, at.Config)

	video := sink.frames[media.KindVideo]
	require.True(t, video[0].Key, "starts at a keyframe")
	require.Len(t, video[0].Data, 3)
	require.Equal(t, [][]byte{testSPS, testPPS}, video[0].Data[:2], "the SDP's parameter sets in front of the IDR")
	require.True(t, bytes.Equal(idr, video[0].Data[2]), "the IDR reassembled from FU-A")
	for i := 1; i < len(video); i++ {
		require.Equal(t, int64(3000), video[i].PTS-video[i-1].PTS, "frame %d", i)
		require.Equal(t, video[i].PTS, video[i].DTS)
		last := video[i].Data[len(video[i].Data)-1]
		require.Equal(t, video[i].Key, len(last) == len(idr), "frame %d: keyframe iff IDR", i)
		if video[i].Key {
			require.Len(t, video[i].Data, 3, "frame %d: parameter sets in front", i)
		} else {
			require.Len(t, video[i].Data, 1)
			require.Len(t, last, len(p))
		}
	}
	require.Less(t, video[0].PTS, int64(90000), "starts near 0")
	audio := sink.frames[media.KindAudio]
	for i := 1; i < len(audio); i++ {
		require.Equal(t, int64(1024), audio[i].PTS-audio[i-1].PTS)
	}
}

func TestPullErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("no server", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		err = Pull(ctx, Config{URL: "rtsp://user:secret@" + addr + "/cam", Sink: newRecordSink(1)})
		require.ErrorContains(t, err, "connection refused")
		require.ErrorContains(t, err, "DESCRIBE")
		require.NotContains(t, err.Error(), "secret", "no password in messages")
	})

	srv := rtsptest.Start(t)
	t.Run("not found", func(t *testing.T) {
		err := Pull(ctx, Config{URL: srv.URL("missing"), Sink: newRecordSink(1)})
		require.ErrorContains(t, err, "404")
	})

	t.Run("unsupported codec", func(t *testing.T) {
		desc := &description.Session{Medias: []*description.Media{{
			Type: description.MediaTypeAudio, Formats: []format.Format{&format.G722{}},
		}}}
		_, unpublish, err := srv.Publish("g722", desc)
		require.NoError(t, err)
		defer unpublish()
		err = Pull(ctx, Config{URL: srv.URL("g722"), Sink: newRecordSink(1)})
		require.ErrorIs(t, err, ErrNoSupportedMedia)
		require.ErrorIs(t, err, demux.ErrNoTracks, "one vocabulary with the demuxers")
		require.ErrorContains(t, err, "G722")
	})

	t.Run("bad transport", func(t *testing.T) {
		err := Pull(ctx, Config{URL: srv.URL("x"), Transport: "quic"})
		require.ErrorContains(t, err, "udp or tcp")
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, ccancel := context.WithCancelCause(ctx)
		stop := errors.New("deleted")
		ccancel(stop)
		err := Pull(cctx, Config{URL: srv.URL("missing"), Sink: newRecordSink(1)})
		require.ErrorIs(t, err, stop)
	})
}
