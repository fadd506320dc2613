package opus

import (
	"testing"

	"github.com/stretchr/testify/require"
)

var heads = []struct {
	name string
	buf  []byte
	want Head
}{
	{"stereo", append([]byte("OpusHead"), 1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0),
		Head{Version: 1, Channels: 2, PreSkip: 312, InputSampleRate: 48000, StreamCount: 1, CoupledCount: 1}},
	{"5.1", append([]byte("OpusHead"), 1, 6, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 1, 4, 2, 0, 4, 1, 2, 3, 5),
		Head{Version: 1, Channels: 6, PreSkip: 312, InputSampleRate: 48000, MappingFamily: 1, StreamCount: 4, CoupledCount: 2,
			ChannelMapping: []byte{0, 4, 1, 2, 3, 5}}},
}

func TestParseHead(t *testing.T) {
	for _, ca := range heads {
		h, err := ParseHead(ca.buf)
		require.NoError(t, err, ca.name)
		require.Equal(t, ca.want, *h, ca.name)
		_, err = ParseHead(ca.buf[:len(ca.buf)-1])
		require.Error(t, err, ca.name)
	}
}

func FuzzParseHead(f *testing.F) {
	for _, ca := range heads {
		f.Add(ca.buf)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHead(b)
		if err != nil {
			return
		}
		require.Positive(t, h.Channels)
		require.Positive(t, h.StreamCount)
		require.LessOrEqual(t, h.CoupledCount, h.StreamCount)
	})
}
