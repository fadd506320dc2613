package demuxtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

func TestWrite(t *testing.T) {
	v := &media.Track{ID: 1, Kind: media.KindVideo, Codec: media.CodecH264, ClockRate: 90000, Width: 2, Height: 1, Config: make([]byte, 65)}
	a := &media.Track{ID: 2, Kind: media.KindAudio, Codec: media.CodecOpus, ClockRate: 48000, SampleRate: 48000, Channels: 2, Config: []byte{1, 2}}
	var b strings.Builder
	WriteTrack(&b, v, ConfigShortHex)
	WriteTrack(&b, a, ConfigShortHex)
	WriteTrack(&b, a, ConfigHex)
	WriteTrack(&b, a, ConfigSize)
	WriteFrame(&b, &media.Frame{Track: v, DTS: 1, PTS: 2, Key: true, Data: [][]byte{{0x65, 0}, {0x06}}}, LabelKindID)
	WriteFrame(&b, &media.Frame{Track: a, DTS: 3, PTS: 3, Data: [][]byte{{1, 2, 3}}}, LabelKind)
	WriteFrame(&b, &media.Frame{Track: a, DTS: 3, PTS: 3, Data: [][]byte{{1, 2, 3}}}, LabelID)
	require.Equal(t, "track id=1 video "+media.CodecH264.String()+" clock=90000 size=2x1 rate=0 channels=0 config="+strings.Repeat("0", 128)+"…(65 bytes)\n"+
		"track id=2 audio "+media.CodecOpus.String()+" clock=48000 size=0x0 rate=48000 channels=2 config=0102\n"+
		"track id=2 audio "+media.CodecOpus.String()+" clock=48000 size=0x0 rate=48000 channels=2 config=0102\n"+
		"track id=2 audio "+media.CodecOpus.String()+" clock=48000 size=0x0 rate=48000 channels=2 config=2 bytes\n"+
		"v 1 "+media.CodecH264.String()+" dts=1 pts=2 K 5:2 6:1\n"+
		"a "+media.CodecOpus.String()+" dts=3 pts=3 - 3\n"+
		"2 "+media.CodecOpus.String()+" dts=3 pts=3 - 3\n", b.String())
}

func TestCollector(t *testing.T) {
	var c Collector
	v := &media.Track{ID: 1, Kind: media.KindVideo}
	a := &media.Track{ID: 2, Kind: media.KindAudio}
	require.Error(t, c.OnFrameAfterTrack(&media.Frame{Track: v}))
	require.NoError(t, c.OnTrackOnce(v))
	require.Error(t, c.OnTrackOnce(v))
	require.Error(t, c.OnFrameOfTrack(&media.Frame{Track: a}))
	require.NoError(t, c.OnTrack(a))
	require.NoError(t, c.OnFrameOfTrack(&media.Frame{Track: a}))
	require.NoError(t, c.OnFrameAfterTrack(&media.Frame{Track: v}))
	require.Same(t, a, c.KindTrack(media.KindAudio))
	require.Len(t, c.KindFrames(media.KindVideo), 1)
	require.Len(t, c.TrackFrames(a), 1)
	c.Tracks = c.Tracks[:1]
	require.Nil(t, c.KindTrack(media.KindAudio))
}
