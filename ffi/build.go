package ffi

// BuildInfo describes what a build of the package links, for
// `tributary --version` and for callers that must know before they try
// whether transcoding is possible at all.
type BuildInfo struct {
	// Transcoding is false in the build without cgo: no codec library is
	// linked and every constructor returns [ErrUnavailable].
	Transcoding bool
	// Static is true when libavcodec is part of the executable (the
	// release build) rather than a shared library.
	Static bool
	// LibavcodecPath is the file libavcodec was loaded from: the
	// executable itself when Static.
	LibavcodecPath string
	// Libraries are the linked libraries and their versions, as the
	// libraries themselves report them, in a fixed order (FFmpeg,
	// libavcodec, libavutil, libswscale, libswresample, x264, libvpx,
	// libopus).
	Libraries []Library
	// Decoders maps each codec of the package to the libavcodec decoder
	// that would decode it ("h264", "libdav1d"), or "" when the linked
	// libavcodec has none.
	Decoders map[Codec]string
	// Encoders maps each codec the package encodes to its encoder
	// ("libx264", "libvpx", "libopus"), or "" when it is missing.
	Encoders map[Codec]string
}

// Library is one linked library and its version.
type Library struct {
	Name    string
	Version string
}

// Codecs returns every codec the package knows, in enum order.
func Codecs() []Codec {
	out := make([]Codec, 0, len(codecNames))
	for c := CodecH264; c <= lastCodec; c++ {
		out = append(out, c)
	}
	return out
}
