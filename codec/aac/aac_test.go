package aac

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type configCase struct {
	name string
	asc  []byte
	want Config
}

var configCases = []configCase{
	// ffmpeg -c:a aac -ar 44100 -ac 1 (with the GASpecificConfig tail).
	{"LC 44.1 kHz mono", []byte{0x12, 0x08, 0x56, 0xe5, 0x00}, Config{ObjectTypeLC, 44100, 44100, 1}},
	// voaacenc 44.1 kHz stereo.
	{"LC 44.1 kHz stereo", []byte{0x12, 0x10}, Config{ObjectTypeLC, 44100, 44100, 2}},
	{"LC 48 kHz stereo", []byte{0x11, 0x90}, Config{ObjectTypeLC, 48000, 48000, 2}},
	// HE-AAC explicit: SBR, core 22.05 kHz, extension 44.1 kHz, stereo.
	{"HE-AAC", []byte{0x2b, 0x92, 0x08, 0x00}, Config{ObjectTypeSBR, 44100, 22050, 2}},
	// AAC Main, which mediacommon refuses: our own header read.
	{"Main 44.1 kHz stereo", []byte{0x0a, 0x10}, Config{ObjectTypeMain, 44100, 44100, 2}},
	// Explicit 24-bit sample rate (escape index 15).
	{"explicit rate", []byte{0x0f, 0x80, 0x2e, 0xe0, 0x10}, Config{ObjectTypeMain, 24000, 24000, 2}},
}

func TestParseConfig(t *testing.T) {
	for _, ca := range configCases {
		t.Run(ca.name, func(t *testing.T) {
			c, err := ParseConfig(ca.asc)
			require.NoError(t, err)
			require.Equal(t, ca.want, *c)
		})
	}
	_, err := ParseConfig([]byte{0x12})
	require.Error(t, err)
}

func TestMarshalConfig(t *testing.T) {
	b, err := MarshalConfig(ObjectTypeLC, 44100, 2)
	require.NoError(t, err)
	require.Equal(t, []byte{0x12, 0x10}, b)
	_, err = MarshalConfig(ObjectTypeLC, 44000, 2)
	require.Error(t, err)
}

func TestADTS(t *testing.T) {
	raw1, raw2 := []byte{1, 2, 3}, []byte{4, 5}
	frame := func(raw []byte, crc bool) []byte {
		hl := 7
		b1 := byte(0xf1)
		if crc {
			hl, b1 = 9, 0xf0
		}
		n := hl + len(raw)
		h := []byte{0xff, b1, 0x50, 0x80, byte(n >> 3), byte(n<<5) | 0x1f, 0xfc}
		if crc {
			h = append(h, 0xab, 0xcd)
		}
		return append(h, raw...)
	}
	buf := append(frame(raw1, false), frame(raw2, true)...)
	frames, h, err := SplitADTS(buf)
	require.NoError(t, err)
	require.Equal(t, [][]byte{raw1, raw2}, frames)
	require.Equal(t, ADTSHeader{ObjectType: ObjectTypeLC, SampleRate: 44100, Channels: 2, HeaderLen: 7, FrameLen: 10}, h)
	asc, err := h.Config()
	require.NoError(t, err)
	require.Equal(t, []byte{0x12, 0x10}, asc)

	_, _, err = SplitADTS(buf[:len(buf)-1])
	require.Error(t, err)
	_, err = ParseADTSHeader([]byte{0x12, 0x10, 0, 0, 0, 0, 0})
	require.ErrorIs(t, err, ErrNotADTS)
}

func FuzzParseConfig(f *testing.F) {
	for _, ca := range configCases {
		f.Add(ca.asc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		require.Positive(t, c.SampleRate)
		require.LessOrEqual(t, c.SampleRate, maxExplicitSampleRate)
		require.GreaterOrEqual(t, c.Channels, 0)
	})
}

func FuzzSplitADTS(f *testing.F) {
	f.Add([]byte{0xff, 0xf1, 0x50, 0x80, 0x01, 0x5f, 0xfc, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, _, err := SplitADTS(b)
		if err != nil {
			return
		}
		n := 0
		for _, fr := range frames {
			require.NotEmpty(t, fr)
			n += 7 + len(fr)
		}
		require.LessOrEqual(t, n, len(b))
	})
}
