package pcm

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConvert(t *testing.T) {
	f32 := func(v float32, be bool) []byte {
		b := make([]byte, 4)
		if be {
			binary.BigEndian.PutUint32(b, math.Float32bits(v))
		} else {
			binary.LittleEndian.PutUint32(b, math.Float32bits(v))
		}
		return b
	}
	f64 := func(v float64) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, math.Float64bits(v))
		return b
	}
	cat := func(bs ...[]byte) (out []byte) {
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    Layout
		in   []byte
		want []int16
	}{
		{"u8", Layout{Bits: 8, Unsigned: true}, []byte{0x80, 0xff, 0x00, 0x81}, []int16{0, 0x7f00, -0x8000, 0x100}},
		{"s8", Layout{Bits: 8}, []byte{0x00, 0x7f, 0x80}, []int16{0, 0x7f00, -0x8000}},
		{"s16le", S16LE, []byte{0x34, 0x12, 0xff, 0xff, 0x01}, []int16{0x1234, -1}},
		{"s16be", Layout{Bits: 16, BigEndian: true}, []byte{0x12, 0x34, 0x80, 0x00}, []int16{0x1234, -0x8000}},
		{"s24le", Layout{Bits: 24}, []byte{0xff, 0x34, 0x12, 0x00, 0x00, 0x80}, []int16{0x1234, -0x8000}},
		{"s24be", Layout{Bits: 24, BigEndian: true}, []byte{0x12, 0x34, 0xff}, []int16{0x1234}},
		{"s32le", Layout{Bits: 32}, []byte{0, 0, 0x34, 0x12, 0xff, 0xff, 0xff, 0xff}, []int16{0x1234, -1}},
		{"s32be", Layout{Bits: 32, BigEndian: true}, []byte{0x12, 0x34, 0, 0}, []int16{0x1234}},
		{"f32le", Layout{Bits: 32, Float: true}, cat(f32(0.5, false), f32(-1, false), f32(2, false)), []int16{16384, -32768, 32767}},
		{"f32be", Layout{Bits: 32, Float: true, BigEndian: true}, f32(-0.25, true), []int16{-8192}},
		{"f64le", Layout{Bits: 64, Float: true}, cat(f64(0.5), f64(math.NaN())), []int16{16384, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, c.f.Valid())
			out := Convert([]byte{9}, c.in, c.f)
			require.Equal(t, byte(9), out[0], "appended")
			out = out[1:]
			require.Len(t, out, 2*len(c.want))
			for i, w := range c.want {
				require.Equal(t, w, int16(binary.LittleEndian.Uint16(out[2*i:])), "sample %d", i)
			}
		})
	}
	require.Error(t, Layout{Bits: 12}.Valid())
	require.Error(t, Layout{Bits: 16, Float: true}.Valid())
	require.Empty(t, Convert(nil, []byte{1, 2}, Layout{}))
}
