package forward

import (
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/room"
)

// A baseline 1280x720 SPS (x264) and a VP8 keyframe start.
var (
	sps720 = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x23, 0xc6, 0x0c, 0xa8}
	vp8Key = []byte{0x10, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00, 0xff} // descriptor S=1 PID=0, 320x180
)

type pictureSizeCase struct {
	name, mime string
	payload    []byte
	w, h       int
	ok         bool
}

// pictureSizeCases is TestPictureSize's table, also FuzzPictureSize's seeds.
func pictureSizeCases() []pictureSizeCase {
	stapA := append([]byte{24, 0, byte(len(sps720))}, sps720...)
	stapA = append(stapA, 0, 2, 0x68, 0xce)
	return []pictureSizeCase{
		{"H.264 SPS", "video/H264", sps720, 1280, 720, true},
		{"H.264 STAP-A", "video/h264", stapA, 1280, 720, true},
		{"H.264 slice", "video/H264", []byte{0x65, 0x88}, 0, 0, false},
		{"H.264 truncated STAP-A", "video/H264", []byte{24, 0, 99, 0x67}, 0, 0, false},
		{"VP8 keyframe", "video/VP8", vp8Key, 320, 180, true},
		{"VP8 continuation", "video/VP8", []byte{0x00, 0x50, 0x42}, 0, 0, false},
		{"empty", "video/VP8", nil, 0, 0, false},
		{"AV1", "video/AV1", []byte{0x08}, 0, 0, false},
	}
}

func TestPictureSize(t *testing.T) {
	for _, c := range pictureSizeCases() {
		t.Run(c.name, func(t *testing.T) {
			in := append([]byte(nil), c.payload...)
			w, h, ok := PictureSize(c.mime, c.payload)
			require.Equal(t, c.ok, ok)
			require.Equal(t, c.w, w)
			require.Equal(t, c.h, h)
			require.Equal(t, in, append([]byte(nil), c.payload...), "payload not mutated")
		})
	}
}

func FuzzPictureSize(f *testing.F) {
	for _, c := range pictureSizeCases() {
		f.Add(c.mime, c.payload)
	}
	f.Fuzz(func(t *testing.T, mime string, b []byte) {
		if w, h, ok := PictureSize(mime, b); ok && (w <= 0 || h <= 0) {
			t.Fatalf("size %dx%d reported", w, h)
		}
	})
}

func TestSeqRewriter(t *testing.T) {
	var r seqRewriter
	var out []uint16
	for i, payload := range [][]byte{{1}, {}, {}, {1}, {1}, {}, {1}} {
		p := &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(65533 + i)}, Payload: payload}
		if r.rewrite(p) {
			out = append(out, p.SequenceNumber)
		}
	}
	require.Equal(t, []uint16{65533, 65534, 65535, 0}, out, "padding dropped, no gap, wraps")
}

// TestSeqRewriterLate: a packet that arrives after newer ones — the
// retransmission of a lost one, a reordered or repeated one — takes the
// number it would have had in order, shifted only by the paddings
// dropped before it, across the wrap too; a late padding fills its
// place; a dropped padding sent again, and a packet too far behind, are
// dropped.
func TestSeqRewriterLate(t *testing.T) {
	for _, base := range []uint16{100, 65530} {
		var r seqRewriter
		send := func(seq uint16, padding bool) (uint16, bool) {
			p := &rtp.Packet{Header: rtp.Header{SequenceNumber: base + seq}, Payload: []byte{1}}
			if padding {
				p.Payload = nil
			}
			ok := r.rewrite(p)
			return p.SequenceNumber - base, ok
		}
		want := func(seq uint16, padding bool, out uint16, what string) {
			t.Helper()
			got, ok := send(seq, padding)
			require.True(t, ok, "%s: forwarded", what)
			require.Equal(t, out, got, "%s (base %d)", what, base)
		}
		want(0, false, 0, "first")
		// 1 is lost; 2 and 3 are paddings.
		_, ok := send(2, true)
		require.False(t, ok)
		_, ok = send(3, true)
		require.False(t, ok)
		want(4, false, 2, "after two paddings")
		want(1, false, 1, "the lost packet retransmitted takes its own place")
		want(4, false, 2, "a repeat takes its own number again (a duplicate)")
		_, ok = send(3, true)
		require.False(t, ok, "a dropped padding sent again")
		// 6 arrives before the late padding 5.
		want(6, false, 4, "after the gap of 5")
		want(5, true, 3, "a late padding fills its place")
		_, ok = send(7, true)
		require.False(t, ok)
		want(8, false, 5, "in order again")
		_, ok = send(uint16(8-maxLate+65536), false)
		require.False(t, ok, "too far behind to place")
	}
	// The paddings remembered are bounded.
	var r seqRewriter
	for i := range 5000 {
		r.rewrite(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i)}})
	}
	require.LessOrEqual(t, len(r.pads), maxLate)
}

func TestLayerSpecs(t *testing.T) {
	s := &Forwarder{}
	s.layers[1].width.Store(640)
	s.layers[1].height.Store(360)
	require.Equal(t, []room.VideoLayer{
		{Quality: livekit.VideoQuality_HIGH, Width: 1280, Height: 720},
		{Quality: livekit.VideoQuality_MEDIUM, Width: 640, Height: 360},
		{Quality: livekit.VideoQuality_LOW, Width: 320, Height: 180},
	}, s.layerSpecs(3), "sizes not seen yet are estimated from a known layer")
	require.Equal(t, []room.VideoLayer{{Quality: livekit.VideoQuality_HIGH}}, (&Forwarder{}).layerSpecs(1))
}
