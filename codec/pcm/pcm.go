// Package pcm converts the uncompressed sample layouts containers carry
// (WAV, QuickTime, Matroska, RTP L16/L24) to the one the rest of
// Tributary takes: interleaved signed 16-bit little-endian
// (media.CodecPCM). The Opus encoder takes 16-bit samples, so nothing
// audible is lost by converting here.
package pcm

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Layout is a sample layout.
type Layout struct {
	// Bits per sample: 8, 16, 24, 32 or 64 (64 float only).
	Bits int
	// Float is IEEE 754 (32 or 64 bits).
	Float bool
	// BigEndian byte order.
	BigEndian bool
	// Unsigned samples (8-bit WAV is unsigned, 8-bit QuickTime 'twos'
	// signed).
	Unsigned bool
}

// MaxChannels bounds the channels of a PCM track.
const MaxChannels = 8

// Valid reports whether the layout is one Convert takes.
func (f Layout) Valid() error {
	switch {
	case f.Float && (f.Bits == 32 || f.Bits == 64) && !f.Unsigned:
	case !f.Float && (f.Bits == 8 || f.Bits == 16 || f.Bits == 24 || f.Bits == 32):
	default:
		return fmt.Errorf("PCM: %s is not supported", f)
	}
	return nil
}

func (f Layout) String() string {
	kind := "signed"
	if f.Float {
		kind = "float"
	} else if f.Unsigned {
		kind = "unsigned"
	}
	order := "little-endian"
	if f.BigEndian {
		order = "big-endian"
	}
	if f.Bits == 8 {
		return fmt.Sprintf("8-bit %s", kind)
	}
	return fmt.Sprintf("%d-bit %s %s", f.Bits, kind, order)
}

// S16LE is the layout of media.CodecPCM.
var S16LE = Layout{Bits: 16}

// BytesPerSample is the size of one sample of one channel.
func (f Layout) BytesPerSample() int { return f.Bits / 8 }

// Convert appends the samples of src, in layout f, to dst as signed 16-bit
// little-endian and returns it. A partial sample at the end of src is
// dropped. The output is never larger than twice the input.
func Convert(dst, src []byte, f Layout) []byte {
	n := f.BytesPerSample()
	if n == 0 {
		return dst
	}
	count := len(src) / n
	if f == S16LE {
		return append(dst, src[:count*2]...)
	}
	out := len(dst)
	dst = append(dst, make([]byte, 2*count)...)
	for i := range count {
		binary.LittleEndian.PutUint16(dst[out+2*i:], uint16(sample(src[i*n:i*n+n], f)))
	}
	return dst
}

// sample converts one sample to signed 16 bits.
func sample(b []byte, f Layout) int16 {
	if f.Float {
		var v float64
		if f.Bits == 32 {
			var u uint32
			if f.BigEndian {
				u = binary.BigEndian.Uint32(b)
			} else {
				u = binary.LittleEndian.Uint32(b)
			}
			v = float64(math.Float32frombits(u))
		} else {
			var u uint64
			if f.BigEndian {
				u = binary.BigEndian.Uint64(b)
			} else {
				u = binary.LittleEndian.Uint64(b)
			}
			v = math.Float64frombits(u)
		}
		if v != v { // NaN
			return 0
		}
		return int16(math.Round(min(max(v, -1), 32767.0/32768) * 32768))
	}
	// The two most significant bytes of the sample.
	var hi, lo byte
	switch {
	case len(b) == 1:
		hi = b[0]
	case f.BigEndian:
		hi, lo = b[0], b[1]
	default:
		hi, lo = b[len(b)-1], b[len(b)-2]
	}
	if f.Unsigned {
		hi ^= 0x80
	}
	return int16(uint16(hi)<<8 | uint16(lo))
}
