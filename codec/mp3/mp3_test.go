package mp3

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFrameHeader(t *testing.T) {
	cases := []struct {
		name string
		buf  []byte
		want FrameHeader
	}{
		// libmp3lame 64 kbit/s 44.1 kHz joint stereo.
		{"MPEG-1 L3 44.1k stereo", []byte{0xff, 0xfb, 0x50, 0x64, 0}, FrameHeader{Layer: 3, Bitrate: 64000, SampleRate: 44100, Channels: 2, SamplesPerFrame: 1152, Length: 208}},
		// MPEG-2 L3 24 kHz mono.
		{"MPEG-2 L3 24k mono", []byte{0xff, 0xf3, 0x54, 0xc4, 0}, FrameHeader{MPEG2: true, Layer: 3, Bitrate: 40000, SampleRate: 24000, Channels: 1, SamplesPerFrame: 576, Length: 120}},
		// The same with the padding bit: one byte more.
		{"MPEG-2 L3 24k mono padded", []byte{0xff, 0xf3, 0x56, 0xc4, 0}, FrameHeader{MPEG2: true, Layer: 3, Bitrate: 40000, SampleRate: 24000, Channels: 1, SamplesPerFrame: 576, Length: 121}},
		// MPEG-2 Layer II keeps 1152 samples and the MPEG-1 coefficient.
		{"MPEG-2 L2 24k mono", []byte{0xff, 0xf5, 0x54, 0xc4, 0}, FrameHeader{MPEG2: true, Layer: 2, Bitrate: 40000, SampleRate: 24000, Channels: 1, SamplesPerFrame: 1152, Length: 240}},
	}
	for _, ca := range cases {
		h, err := ParseFrameHeader(ca.buf)
		require.NoError(t, err, ca.name)
		require.Equal(t, ca.want, h, ca.name)
	}
	_, err := ParseFrameHeader([]byte{0, 0, 0, 0, 0})
	require.Error(t, err)
}
