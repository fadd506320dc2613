package transcode

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// TestUnavailable: the passthrough build (CGO_ENABLED=0 go test) says it
// cannot transcode, with the reason a streamer reads, and every
// transcoder fails with it; a build with cgo can.
func TestUnavailable(t *testing.T) {
	if Available {
		require.NoError(t, Unavailable())
		require.True(t, Build().Transcoding)
		return
	}
	require.ErrorIs(t, Unavailable(), ErrUnavailable)
	require.Contains(t, Unavailable().Error(), "run the tributary-linux-amd64 build to transcode")
	require.False(t, Build().Transcoding)
	src := &media.Track{Kind: media.KindVideo, Codec: media.CodecH264, ClockRate: 90000, Width: 640, Height: 360}
	_, err := NewVideo(VideoConfig{Source: src, Codec: media.CodecH264, Layers: []LayerTarget{{Width: 640, Height: 360, Bitrate: 500000}}})
	require.ErrorIs(t, err, ErrUnavailable)
	aac := &media.Track{Kind: media.KindAudio, Codec: media.CodecAAC, ClockRate: 48000, SampleRate: 48000, Channels: 2}
	_, err = NewAudio(AudioConfig{Source: aac, Channels: 2, Bitrate: 64000})
	require.ErrorIs(t, err, ErrUnavailable)
}
