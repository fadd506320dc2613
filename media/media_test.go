package media

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMulDiv(t *testing.T) {
	cases := []struct {
		name          string
		v, m, d, want int64
	}{
		{"90kHz second", 90000, int64(time.Second), 90000, int64(time.Second)},
		{"30 hours of 90kHz ticks to ns", 90000 * 3600 * 30, int64(time.Second), 90000, int64(30 * time.Hour)},
		{"48k to 90k", 48000, 90000, 48000, 90000},
		{"44.1k sample to 48k", 441, 48000, 44100, 480},
		{"negative", -90000, 1000, 90000, -1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, MulDiv(c.v, c.m, c.d))
		})
	}
	require.Equal(t, 1500*time.Millisecond, Duration(135000, 90000))
	require.Equal(t, int64(1114), Rescale(1024, 44100, 48000), "an AAC frame at 44.1 kHz in 48 kHz ticks")
}

func TestCodec(t *testing.T) {
	require.Equal(t, KindVideo, CodecH264.Kind())
	require.Equal(t, KindAudio, CodecOpus.Kind())
	require.Equal(t, "video/H264", CodecH264.MimeType())
	require.Equal(t, "audio/opus", CodecOpus.MimeType())
	require.Equal(t, "H.265", CodecH265.String())
}
