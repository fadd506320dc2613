package vp8

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

var cases = []struct {
	name   string
	frame  []byte
	w, h   int
	errIs  error
	hasErr bool
}{
	{"keyframe 1280x720", []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02, 0xff}, 1280, 720, nil, false},
	{"keyframe with scaling bits", []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x41, 0xb4, 0xc0}, 320, 180, nil, false},
	{"interframe", []byte{0x51, 0x42, 0x00}, 0, 0, ErrNotKeyframe, true},
	{"empty", nil, 0, 0, nil, true},
	{"short keyframe", []byte{0x50, 0x42, 0x00, 0x9d}, 0, 0, nil, true},
	{"bad start code", []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2b, 0x00, 0x05, 0xd0, 0x02}, 0, 0, nil, true},
	{"zero size", []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x00, 0xd0, 0x02}, 0, 0, nil, true},
}

func TestParseKeyframeSize(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := append([]byte(nil), c.frame...)
			w, h, err := ParseKeyframeSize(c.frame)
			require.Equal(t, in, append([]byte(nil), c.frame...), "input not mutated")
			if c.hasErr {
				require.Error(t, err)
				if c.errIs != nil {
					require.True(t, errors.Is(err, c.errIs))
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.w, w)
			require.Equal(t, c.h, h)
		})
	}
}

func FuzzParseKeyframeSize(f *testing.F) {
	for _, c := range cases {
		f.Add(c.frame)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, err := ParseKeyframeSize(b)
		if err == nil && (w <= 0 || h <= 0 || w > MaxDimension || h > MaxDimension) {
			t.Fatalf("size %dx%d accepted", w, h)
		}
	})
}
