package ffi

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodecString(t *testing.T) {
	require.Equal(t, "h264", CodecH264.String())
	require.Equal(t, "flac", CodecFLAC.String())
	require.Equal(t, "codec(0)", Codec(0).String())
	require.True(t, CodecAV1.IsVideo())
	require.False(t, CodecAAC.IsVideo())
	require.True(t, CodecVorbis.IsAudio())
	require.Equal(t, "fltp", SampleFormatFLTP.String())
	require.True(t, SampleFormatS16P.Planar())
	require.False(t, SampleFormatFLT.Planar())
	require.Equal(t, 2, SampleFormatS16.BytesPerSample())
}

func TestMain(m *testing.M) {
	// Errors are asserted through returned values; keep libav's own stderr
	// chatter (e.g. "[h264 @ 0x…] no frame!" from the garbage test) out of
	// the test log.
	SetLogLevel(LogQuiet)
	os.Exit(m.Run())
}
