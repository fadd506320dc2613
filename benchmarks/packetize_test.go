// Package benchmarks holds pipeline benchmarks and the scripts comparing
// Tributary with GStreamer and the FFmpeg CLI (see README.md, Benchmarks).
package benchmarks

import (
	"math/rand/v2"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// accessUnit is a realistic H.264 access unit as a layer encoder emits it:
// SPS, PPS and one IDR slice, or one non-IDR slice, of the given size.
func accessUnit(key bool, size int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	slice := make([]byte, size)
	for i := range slice {
		slice[i] = byte(r.IntN(256))
	}
	if key {
		slice[0] = 0x65
		return [][]byte{
			{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x03, 0xc6, 0x0c, 0xa8},
			{0x68, 0xce, 0x3c, 0x80},
			slice,
		}
	}
	slice[0] = 0x41
	return [][]byte{slice}
}

// BenchmarkPacketizeH264 is the former H.264 send path of
// room.VideoTrack.WriteFrame without the network, kept as the "before" of
// room's own BenchmarkPacketizeH264 (the allocation-free packetizer now
// used for H.264 and VP8; `go test -bench Packetize ./room/ ./benchmarks/`
// runs both): NAL units → Annex-B (h264.AnnexB.Marshal) → RTP packets of
// at most 1200 bytes (pion's H264Payloader, which the SDK's sample writer
// uses; H.265 still goes this way with pion's H265Payloader). Sizes: a
// 720p P-frame at 1.9 Mbps (~8 kB) and an IDR (~60 kB).
func BenchmarkPacketizeH264(b *testing.B) {
	for _, c := range []struct {
		name string
		key  bool
		size int
	}{{"P-8kB", false, 8000}, {"IDR-60kB", true, 60000}} {
		b.Run(c.name, func(b *testing.B) {
			au := accessUnit(c.key, c.size)
			p := rtp.NewPacketizer(1200, 96, 0x1234, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				data, err := h264.AnnexB(au).Marshal()
				if err != nil {
					b.Fatal(err)
				}
				pkts := p.Packetize(data, 3000)
				n += len(pkts)
			}
			b.ReportMetric(float64(n)/float64(b.N), "packets/op")
		})
	}
}

// BenchmarkPacketizeVP8 is the former VP8 send path: pion's VP8Payloader
// with a 15-bit PictureID, as the SDK's sample writer configures it.
func BenchmarkPacketizeVP8(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"inter-8kB", 8000}, {"key-60kB", 60000}} {
		b.Run(c.name, func(b *testing.B) {
			frame := accessUnit(false, c.size)[0]
			p := rtp.NewPacketizer(1200, 96, 0x1234, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n += len(p.Packetize(frame, 3000))
			}
			b.ReportMetric(float64(n)/float64(b.N), "packets/op")
		})
	}
}
