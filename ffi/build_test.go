//go:build cgo

package ffi

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBuild checks the build report against what the constructors do: a
// codec reported with a decoder opens one, and the libraries report
// versions in the documented order.
func TestBuild(t *testing.T) {
	require.True(t, Available)
	b := Build()
	require.True(t, b.Transcoding)
	require.NotEmpty(t, b.LibavcodecPath)

	var names []string
	for _, l := range b.Libraries {
		names = append(names, l.Name)
		require.NotEmpty(t, l.Version, l.Name)
	}
	require.Equal(t, []string{"FFmpeg", "libavcodec", "libavutil", "libswscale", "libswresample", "x264", "libvpx", "libopus"}, names)
	require.Regexp(t, regexp.MustCompile(`^\d+\.\d+\.\d+$`), b.Libraries[1].Version)

	// Every build of ffi decodes H.264 and AAC and encodes H.264, VP8 and
	// Opus: the transcoder needs them.
	require.Equal(t, "h264", b.Decoders[CodecH264])
	require.Equal(t, "aac", b.Decoders[CodecAAC])
	require.Equal(t, "libx264", b.Encoders[CodecH264])
	require.Equal(t, "libvpx", b.Encoders[CodecVP8])
	require.Equal(t, "libopus", b.Encoders[CodecOpus])

	require.Len(t, b.Decoders, len(Codecs()))
	for c, name := range b.Decoders {
		var err error
		if c.IsVideo() {
			var d *VideoDecoder
			if d, err = NewVideoDecoder(c, nil); err == nil {
				d.Close()
			}
		} else {
			var d *AudioDecoder
			if d, err = NewAudioDecoder(c, nil, WithAudioParams(48000, 2)); err == nil {
				d.Close()
			}
		}
		if name == "" {
			require.ErrorIs(t, err, ErrUnsupportedCodec, "%s reported missing", c)
		} else if err != nil {
			require.NotErrorIs(t, err, ErrUnsupportedCodec, "%s reported as %s", c, name)
		}
	}
}

func TestLibVersion(t *testing.T) {
	require.Equal(t, "59.37.100", libVersion(59<<16|37<<8|100))
}
