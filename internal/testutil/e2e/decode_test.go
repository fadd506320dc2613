package e2e

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/ffi"
)

// TestDecodeAfterCutPicture: what a viewer receives when LiveKit switches
// it to another layer while a picture is on its way — the first packets
// of that picture, then the new layer's keyframe, sequence numbers
// without a gap — decodes from the keyframe on: the cut picture's
// fragments are not glued to the keyframe's.
func TestDecodeAfterCutPicture(t *testing.T) {
	enc, err := ffi.NewVideoEncoder(ffi.VideoEncoderConfig{Codec: ffi.CodecH264, Width: 128, Height: 96, FPS: 30, Bitrate: 2_000_000})
	require.NoError(t, err)
	defer enc.Close()
	pic, err := ffi.NewVideoFrame(128, 96)
	require.NoError(t, err)
	defer pic.Release()

	pay := &codecs.H264Payloader{}
	seq := uint16(1000)
	var pkts []CapturedPacket
	at := time.Now()
	for i := range 3 {
		for _, p := range pic.Planes() {
			for j := range p {
				p[j] = byte(rand.IntN(256)) // noise: every picture spans many packets
			}
		}
		pic.PTS = int64(i) * 3000
		if i == 2 {
			enc.ForceKeyframe()
		}
		out, err := enc.Encode(pic)
		require.NoError(t, err)
		require.Len(t, out, 1)
		payloads := pay.Payload(300, out[0].Data)
		require.Greater(t, len(payloads), 4)
		if i == 1 {
			payloads = payloads[:len(payloads)/2] // cut short by the switch
		}
		for k, b := range payloads {
			pkts = append(pkts, CapturedPacket{Arrival: at, Packet: &rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(pic.PTS), Marker: k == len(payloads)-1},
				Payload: b,
			}})
			seq++
		}
	}
	pics, err := DecodeH264Pictures(pkts)
	require.NoError(t, err)
	var times []uint32
	for _, p := range pics {
		times = append(times, p.RTPTime)
	}
	require.Equal(t, []uint32{0, 6000}, times, "the first keyframe and the one after the cut picture")
}
