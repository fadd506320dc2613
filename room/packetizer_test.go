package room

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// recorder keeps a marshalled copy of every packet written, since the
// packetizer reuses its packet and buffer.
type recorder struct {
	pkts []*rtp.Packet
	err  error // returned by every write when set
}

func (r *recorder) write(p *rtp.Packet) error {
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	var c rtp.Packet
	if err := c.Unmarshal(b); err != nil {
		return err
	}
	r.pkts = append(r.pkts, &c)
	return r.err
}

func randBytes(seed uint64, n int, first byte) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	if n > 0 {
		b[0] = first
	}
	return b
}

var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x03, 0xc6, 0x0c, 0xa8}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
	testAUD = []byte{0x09, 0xf0}
)

func cloneNALs(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = bytes.Clone(b)
	}
	return out
}

// checkFrame checks the packets of one access unit: consecutive sequence
// numbers following seq, one timestamp, payloads within the MTU, marker
// on the last packet only. It returns the next sequence number.
func checkFrame(t *testing.T, pkts []*rtp.Packet, seq uint16, ts uint32) uint16 {
	t.Helper()
	if len(pkts) == 0 {
		t.Fatal("no packets")
	}
	for i, p := range pkts {
		if p.SequenceNumber != seq {
			t.Fatalf("packet %d: sequence number %d, want %d", i, p.SequenceNumber, seq)
		}
		seq++
		if p.Timestamp != ts {
			t.Fatalf("packet %d: timestamp %d, want %d", i, p.Timestamp, ts)
		}
		if p.Marker != (i == len(pkts)-1) {
			t.Fatalf("packet %d of %d: marker %v", i, len(pkts), p.Marker)
		}
		if len(p.Payload) > rtpPayloadMTU || len(p.Payload) == 0 {
			t.Fatalf("packet %d: payload of %d bytes", i, len(p.Payload))
		}
		if p.Version != 2 || p.Extension || p.Padding {
			t.Fatalf("packet %d: header %+v", i, p.Header)
		}
	}
	return seq
}

func depacketizeH264(t *testing.T, pkts []*rtp.Packet) []byte {
	t.Helper()
	var d codecs.H264Packet
	var out []byte
	for i, p := range pkts {
		b, err := d.Unmarshal(p.Payload)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		out = append(out, b...)
	}
	return out
}

func TestPacketizeH264(t *testing.T) {
	big := randBytes(1, 60000, 0x65)
	for _, c := range []struct {
		name string
		au   [][]byte
		want [][]byte // NAL units expected out; au when nil
		n    int      // packets
		stap bool     // first packet is a STAP-A
	}{
		{name: "small P", au: [][]byte{randBytes(2, 500, 0x41)}, n: 1},
		{name: "exactly MTU", au: [][]byte{randBytes(3, 1200, 0x41)}, n: 1},
		{name: "MTU+1", au: [][]byte{randBytes(4, 1201, 0x41)}, n: 2},
		{name: "P 8kB", au: [][]byte{randBytes(5, 8000, 0x41)}, n: 7},
		{name: "IDR 60kB", au: [][]byte{testSPS, testPPS, big}, n: 1 + 51, stap: true},
		{name: "AUD dropped", au: [][]byte{testAUD, testSPS, testPPS, randBytes(6, 300, 0x65)},
			want: [][]byte{testSPS, testPPS, randBytes(6, 300, 0x65)}, n: 2, stap: true},
		{name: "slices", au: [][]byte{randBytes(7, 3000, 0x41), randBytes(8, 40, 0x41), randBytes(9, 1500, 0x41)}, n: 3 + 1 + 2},
		{name: "only parameter sets", au: [][]byte{testSPS, testPPS}, n: 1, stap: true},
		{name: "lone SPS", au: [][]byte{testSPS, randBytes(10, 100, 0x65)}, n: 2},
		{name: "empty NAL skipped", au: [][]byte{{}, randBytes(11, 100, 0x41)}, want: [][]byte{randBytes(11, 100, 0x41)}, n: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r recorder
			p := newPacketizer(rtpPayloadMTU, r.write)
			seq := p.seq
			orig := cloneNALs(c.au)
			const ts = 0xfffffff0
			if err := p.H264(c.au, ts); err != nil {
				t.Fatal(err)
			}
			for i := range c.au {
				if !bytes.Equal(c.au[i], orig[i]) {
					t.Fatalf("NAL unit %d modified", i)
				}
			}
			if len(r.pkts) != c.n {
				t.Fatalf("%d packets, want %d", len(r.pkts), c.n)
			}
			checkFrame(t, r.pkts, seq, ts)
			if got := r.pkts[0].Payload[0]&0x1f == naluSTAPA; got != c.stap {
				t.Fatalf("first packet STAP-A: %v", got)
			}
			want := c.want
			if want == nil {
				want = c.au
			}
			wantB, err := h264.AnnexB(want).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if got := depacketizeH264(t, r.pkts); !bytes.Equal(got, wantB) {
				t.Fatalf("depacketized %d bytes, want %d", len(got), len(wantB))
			}
		})
	}
}

// TestPacketizeH264Frames: sequence numbers run on across frames (and
// wrap), each frame keeps its timestamp, and header extensions a writer
// adds (as LocalTrack.WriteRTP does for simulcast) do not stick.
func TestPacketizeH264Frames(t *testing.T) {
	var r recorder
	p := newPacketizer(rtpPayloadMTU, func(pkt *rtp.Packet) error {
		if pkt.Extension || len(pkt.Extensions) != 0 {
			t.Fatal("packet arrives with header extensions")
		}
		if err := pkt.SetExtension(3, []byte("f")); err != nil {
			t.Fatal(err)
		}
		return r.write(pkt)
	})
	p.seq = 65530
	seq := p.seq
	for i := range 5 {
		r.pkts = nil
		ts := uint32(4294960000 + 3000*i) // wraps
		au := [][]byte{randBytes(uint64(i), 2500, 0x41)}
		if err := p.H264(au, ts); err != nil {
			t.Fatal(err)
		}
		for _, pk := range r.pkts {
			if got := pk.GetExtension(3); string(got) != "f" {
				t.Fatalf("extension %q", got)
			}
			pk.Extension, pk.Extensions, pk.ExtensionProfile = false, nil, 0
		}
		seq = checkFrame(t, r.pkts, seq, ts)
	}
	if want := uint16(65530 + 15 - 65536); seq != want {
		t.Fatalf("sequence number %d", seq)
	}
}

func TestPacketizeOutOfOrder(t *testing.T) {
	var r recorder
	p := newPacketizer(rtpPayloadMTU, r.write)
	au := [][]byte{randBytes(1, 100, 0x41)}
	if err := p.H264(au, 9000); err != nil {
		t.Fatal(err)
	}
	if err := p.H264(au, 9000); err != nil { // same timestamp: fine
		t.Fatal(err)
	}
	if err := p.H264(au, 6000); !errors.Is(err, errOutOfOrderFrame) {
		t.Fatalf("backward timestamp: %v", err)
	}
	if err := p.VP8(au, 3000); !errors.Is(err, errOutOfOrderFrame) {
		t.Fatalf("backward timestamp: %v", err)
	}
	if len(r.pkts) != 2 {
		t.Fatalf("%d packets", len(r.pkts))
	}
}

// TestPacketizeWriteError: a failing write does not stop the frame; the
// first error is returned.
func TestPacketizeWriteError(t *testing.T) {
	r := recorder{err: errors.New("boom")}
	p := newPacketizer(rtpPayloadMTU, r.write)
	if err := p.H264([][]byte{randBytes(1, 5000, 0x41)}, 1); err == nil || err.Error() != "boom" {
		t.Fatalf("error %v", err)
	}
	if len(r.pkts) != 5 {
		t.Fatalf("%d packets", len(r.pkts))
	}
	r.err = nil
	if err := p.H264([][]byte{randBytes(1, 50, 0x41)}, 2); err != nil {
		t.Fatalf("next frame: %v", err)
	}
}

func TestPacketizeVP8(t *testing.T) {
	key := randBytes(1, 30000, 0x10) // keyframe: P bit clear
	for _, c := range []struct {
		name  string
		parts [][]byte
		n     int
	}{
		{"small", [][]byte{randBytes(2, 700, 0x11)}, 1},
		{"exactly fits", [][]byte{randBytes(3, rtpPayloadMTU-vp8DescriptorSize, 0x11)}, 1},
		{"one over", [][]byte{randBytes(4, rtpPayloadMTU-vp8DescriptorSize+1, 0x11)}, 2},
		{"keyframe 30kB", [][]byte{key}, 26},
		{"parts", [][]byte{randBytes(5, 1000, 0x11), {}, randBytes(6, 2000, 0x22), randBytes(7, 3, 0x33)}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r recorder
			p := newPacketizer(rtpPayloadMTU, r.write)
			seq := p.seq
			orig := cloneNALs(c.parts)
			var frame []byte
			for _, b := range c.parts {
				frame = append(frame, b...)
			}
			for k, ts := range []uint32{3000, 6000} {
				r.pkts = nil
				pid := p.pictureID
				if err := p.VP8(c.parts, ts); err != nil {
					t.Fatal(err)
				}
				for i := range c.parts {
					if !bytes.Equal(c.parts[i], orig[i]) {
						t.Fatalf("part %d modified", i)
					}
				}
				if len(r.pkts) != c.n {
					t.Fatalf("%d packets, want %d", len(r.pkts), c.n)
				}
				seq = checkFrame(t, r.pkts, seq, ts)
				var got []byte
				for i, pk := range r.pkts {
					var d codecs.VP8Packet
					b, err := d.Unmarshal(pk.Payload)
					if err != nil {
						t.Fatalf("packet %d: %v", i, err)
					}
					if d.S != 0 != (i == 0) || d.PID != 0 || d.X != 1 || d.I != 1 || d.PictureID != pid || pk.Payload[2]&0x80 == 0 {
						t.Fatalf("frame %d packet %d: descriptor %+v, picture ID want %d", k, i, d, pid)
					}
					if (&codecs.VP8Packet{}).IsPartitionHead(pk.Payload) != (i == 0) {
						t.Fatalf("packet %d: partition head", i)
					}
					got = append(got, b...)
				}
				if !bytes.Equal(got, frame) {
					t.Fatalf("depacketized %d bytes, want %d", len(got), len(frame))
				}
			}
		})
	}
	t.Run("picture ID wraps", func(t *testing.T) {
		var r recorder
		p := newPacketizer(rtpPayloadMTU, r.write)
		p.pictureID = 0x7fff
		_ = p.VP8([][]byte{{0x10, 1, 2}}, 1)
		if p.pictureID != 0 {
			t.Fatalf("picture ID %d", p.pictureID)
		}
	})
	t.Run("empty frame", func(t *testing.T) {
		var r recorder
		p := newPacketizer(rtpPayloadMTU, r.write)
		if err := p.VP8(nil, 1); err != nil || len(r.pkts) != 0 {
			t.Fatalf("%v, %d packets", err, len(r.pkts))
		}
	})
}

// sink models LocalTrack.WriteRTP without a network: it marshals each
// packet into one reused buffer.
type sink struct {
	buf  []byte
	n    int // bytes
	pkts int
}

func (s *sink) write(p *rtp.Packet) error {
	n, err := p.MarshalTo(s.buf)
	s.n += n
	s.pkts++
	return err
}

// BenchmarkPacketizeH264 is room's H.264 send path without the network:
// NAL units → RTP packets of at most 1200 bytes, marshalled into a reused
// buffer. Compare benchmarks/BenchmarkPacketizeH264, the former path
// (Annex-B copy + pion's H264Payloader via the SDK's WriteSample).
func BenchmarkPacketizeH264(b *testing.B) {
	for _, c := range []struct {
		name string
		au   [][]byte
	}{
		{"P-8kB", [][]byte{randBytes(1, 8000, 0x41)}},
		{"IDR-60kB", [][]byte{testSPS, testPPS, randBytes(1, 60000, 0x65)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := &sink{buf: make([]byte, 1500)}
			p := newPacketizer(rtpPayloadMTU, s.write)
			size := 0
			for _, n := range c.au {
				size += len(n)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			ts := uint32(0)
			for b.Loop() {
				ts += 3000
				if err := p.H264(c.au, ts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.pkts)/float64(b.N), "packets/op")
		})
	}
}

// BenchmarkPacketizeVP8: the same for a VP8 inter frame and keyframe.
func BenchmarkPacketizeVP8(b *testing.B) {
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"inter-8kB", randBytes(1, 8000, 0x11)},
		{"key-60kB", randBytes(1, 60000, 0x10)},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := &sink{buf: make([]byte, 1500)}
			p := newPacketizer(rtpPayloadMTU, s.write)
			parts := [][]byte{c.frame}
			b.SetBytes(int64(len(c.frame)))
			b.ReportAllocs()
			ts := uint32(0)
			for b.Loop() {
				ts += 3000
				if err := p.VP8(parts, ts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.pkts)/float64(b.N), "packets/op")
		})
	}
}

// TestPacketizeAllocs pins the benchmarks' claim: no allocation per frame.
func TestPacketizeAllocs(t *testing.T) {
	s := &sink{buf: make([]byte, 1500)}
	p := newPacketizer(rtpPayloadMTU, s.write)
	idr := [][]byte{testSPS, testPPS, randBytes(1, 60000, 0x65)}
	vp8 := [][]byte{randBytes(1, 20000, 0x10)}
	ts := uint32(0)
	if n := testing.AllocsPerRun(20, func() {
		ts += 3000
		if err := p.H264(idr, ts); err != nil {
			t.Fatal(err)
		}
		if err := p.VP8(vp8, ts); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}
