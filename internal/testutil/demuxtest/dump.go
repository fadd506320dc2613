package demuxtest

import (
	"fmt"
	"strings"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/media"
)

// ConfigFormat is how WriteTrack prints a track's codec configuration.
type ConfigFormat int

const (
	// ConfigHex prints "config=<hex>".
	ConfigHex ConfigFormat = iota
	// ConfigShortHex prints "config=<hex>", cut after 64 bytes as
	// "config=<128 hex digits>…(<n> bytes)".
	ConfigShortHex
	// ConfigSize prints "config=<n> bytes".
	ConfigSize
)

// WriteTrack writes one golden dump line for t:
//
//	track id=1 video H.264 clock=90000 size=320x180 rate=0 channels=0 config=…
func WriteTrack(b *strings.Builder, t *media.Track, cf ConfigFormat) {
	var cfg string
	switch cf {
	case ConfigHex:
		cfg = fmt.Sprintf("%x", t.Config)
	case ConfigShortHex:
		cfg = fmt.Sprintf("%x", t.Config)
		if len(cfg) > 128 {
			cfg = fmt.Sprintf("%s…(%d bytes)", cfg[:128], len(t.Config))
		}
	case ConfigSize:
		cfg = fmt.Sprintf("%d bytes", len(t.Config))
	}
	fmt.Fprintf(b, "track id=%d %s %s clock=%d size=%dx%d rate=%d channels=%d config=%s\n",
		t.ID, t.Kind, t.Codec, t.ClockRate, t.Width, t.Height, t.SampleRate, t.Channels, cfg)
}

// FrameLabel is what WriteFrame prints before the codec of a frame.
type FrameLabel int

const (
	// LabelKindID prints the first letter of the track kind and the track
	// ID: "v 1 H.264 …".
	LabelKindID FrameLabel = iota
	// LabelKind prints the first letter of the track kind: "v H.264 …".
	LabelKind
	// LabelID prints the track ID: "1 H.264 …".
	LabelID
)

// WriteFrame writes one golden dump line for f: label, codec, DTS, PTS,
// K for a keyframe (- otherwise), then per unit of f.Data "type:size"
// for H.264 and H.265 NAL units and "size" for other codecs.
func WriteFrame(b *strings.Builder, f *media.Frame, l FrameLabel) {
	switch l {
	case LabelKindID:
		fmt.Fprintf(b, "%s %d ", f.Track.Kind.String()[:1], f.Track.ID)
	case LabelKind:
		fmt.Fprintf(b, "%s ", f.Track.Kind.String()[:1])
	case LabelID:
		fmt.Fprintf(b, "%d ", f.Track.ID)
	}
	key := "-"
	if f.Key {
		key = "K"
	}
	fmt.Fprintf(b, "%s dts=%d pts=%d %s", f.Track.Codec, f.DTS, f.PTS, key)
	for _, u := range f.Data {
		switch f.Track.Codec {
		case media.CodecH264:
			fmt.Fprintf(b, " %d:%d", h264.Type(u), len(u))
		case media.CodecH265:
			fmt.Fprintf(b, " %d:%d", h265.Type(u), len(u))
		default:
			fmt.Fprintf(b, " %d", len(u))
		}
	}
	b.WriteByte('\n')
}
