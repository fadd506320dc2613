package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/transcode"
)

// TestWriteVersion: the report of a static build with transcoding names
// the linked libraries and, per codec, the decoder or encoder used, and
// says which codecs the build lacks (AV1 decoding, with why); the
// passthrough build says it cannot transcode and which build can.
func TestWriteVersion(t *testing.T) {
	var full bytes.Buffer
	writeVersion(&full, "v1.2.3", "0123abcd", transcode.BuildInfo{
		Transcoding: true,
		Static:      true,
		Libraries: []transcode.Library{
			{Name: "FFmpeg", Version: "5.1.9"}, {Name: "x264", Version: "0.164.3095 baee400"},
		},
		Decoders: map[transcode.Codec]string{
			transcode.CodecH264: "h264", transcode.CodecAV1: "", transcode.CodecMP3: "mp3float",
		},
		Encoders: map[transcode.Codec]string{transcode.CodecH264: "libx264"},
	})
	out := full.String()
	for _, want := range []string{
		"tributary v1.2.3\n",
		"commit:      0123abcd\n",
		"transcoding: yes, FFmpeg linked statically\n",
		"  FFmpeg         5.1.9\n",
		"  x264           0.164.3095 baee400\n",
		"decoders:    h264 mp3 (mp3float)\n",
		"encoders:    h264 (libx264)\n",
		"not in this build: av1 decoder (AV1 needs libdav1d; AV1 sources are still forwarded without transcoding)\n",
	} {
		require.Contains(t, out, want)
	}

	var pt bytes.Buffer
	writeVersion(&pt, "v1.2.3", "0123abcd", transcode.BuildInfo{})
	require.Contains(t, pt.String(), "transcoding: not in this build")
	require.Contains(t, pt.String(), "tributary-linux-amd64")
	require.NotContains(t, pt.String(), "decoders:")
}

// TestVersionFlag: `tributary --version` reports this binary's own build
// and exits without reading a config.
func TestVersionFlag(t *testing.T) {
	var buf bytes.Buffer
	printVersion(&buf)
	first, _, _ := strings.Cut(buf.String(), "\n")
	require.True(t, strings.HasPrefix(first, "tributary "), first)
	if transcode.Available {
		require.Contains(t, buf.String(), "decoders:")
	} else {
		require.Contains(t, buf.String(), "transcoding: not in this build")
	}
	require.NoError(t, run([]string{"--version"}))
}
