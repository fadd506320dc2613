package rtpdepack

import (
	"encoding/binary"
	"testing"

	"github.com/pion/rtp"

	"github.com/tributary-ingress/tributary/media"
)

// fuzzSeedPackets bounds the packets of a seed: enough for a few frames,
// small enough for the fuzzer to explore around.
const fuzzSeedPackets = 8

// FuzzWrite feeds a track packets a hostile sender could make. The input
// is the index of a format of the case table (modulo their number), then
// packets, each a 2-byte big-endian length and the marshalled RTP packet.
// Seeded from every case of the table; it checks that no input panics
// and that every frame handed over stays within the bounds of the package
// documentation.
func FuzzWrite(f *testing.F) {
	cases := tableCases(f)
	for i, c := range cases {
		seed := []byte{byte(i)}
		n := 0
		for _, frame := range stream(f, c, 65530, 1<<32-3000) {
			for _, p := range frame {
				if n++; n > fuzzSeedPackets {
					break
				}
				b, err := p.Marshal()
				if err != nil {
					f.Fatal(err)
				}
				seed = binary.BigEndian.AppendUint16(seed, uint16(len(b)))
				seed = append(seed, b...)
			}
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c := cases[int(data[0])%len(cases)]
		tr, err := New(Config{Format: c.format, RequestKeyframe: func() {}})
		if err != nil {
			t.Fatal(err)
		}
		sink := &boundSink{t: t}
		for data = data[1:]; len(data) >= 2; {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			if n > len(data) {
				return
			}
			var p rtp.Packet
			if err := p.Unmarshal(data[:n]); err == nil {
				_ = tr.Write(&p, sink)
			}
			data = data[n:]
		}
	})
}

// boundSink checks the frames against the documented bounds.
type boundSink struct {
	recorder
	t *testing.T
}

func (s *boundSink) Frame(f *media.Frame) error {
	size := 0
	for _, d := range f.Data {
		size += len(d)
	}
	if size > 8<<20 {
		s.t.Fatalf("a frame of %d bytes", size)
	}
	return nil
}
