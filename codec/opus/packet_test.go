package opus

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPacketDuration(t *testing.T) {
	for _, ca := range []struct {
		name string
		pkt  []byte
		want int
	}{
		{"celt 20 ms", []byte{0xfc}, 960},
		{"celt 2.5 ms", []byte{0x80}, 120},
		{"silk 60 ms", []byte{0x18}, 2880},
		{"two frames of 20 ms", []byte{0xfd}, 1920},
		{"code 3, 3 frames of 20 ms", []byte{0xfb, 0x03}, 2880},
	} {
		t.Run(ca.name, func(t *testing.T) {
			d, err := PacketDuration(ca.pkt)
			require.NoError(t, err)
			require.Equal(t, ca.want, d)
		})
	}
	for _, bad := range [][]byte{nil, {0x03}, {0x03, 0x00}, {0x1b, 0x03}} {
		_, err := PacketDuration(bad)
		require.Error(t, err, "%x", bad)
	}
}
