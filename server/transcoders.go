package server

import (
	"github.com/tributary-ingress/tributary/session"
	"github.com/tributary-ingress/tributary/transcode"
)

// transcoders adapts the transcode package to what sessions ask for.
type transcoders struct {
	blocking bool
	reuseTop bool // see config.Config.TranscodingReuseTopLayer
}

func (t transcoders) NewVideo(c session.VideoTranscodeConfig) (session.VideoTranscoder, error) {
	layers := make([]transcode.Layer, len(c.Layers))
	for i, l := range c.Layers {
		layers[i] = transcode.Layer{Width: int(l.Width), Height: int(l.Height), Bitrate: int(l.Bitrate)}
	}
	return transcode.NewVideo(transcode.VideoConfig{
		Source: c.Source, Codec: c.Codec, MaxFrameRate: c.FrameRate, Layers: layers,
		Output: c.Output, OnDrop: c.OnDrop, OnStale: c.OnStale, Logger: c.Logger, Blocking: t.blocking,
		ReuseTop: t.reuseTop,
	})
}

func (t transcoders) NewAudio(c session.AudioTranscodeConfig) (session.AudioTranscoder, error) {
	return transcode.NewAudio(transcode.AudioConfig{
		Source: c.Source, Channels: c.Channels, Bitrate: c.Bitrate, DTX: c.DTX,
		Output: c.Output, Logger: c.Logger,
	})
}

// Unavailable is transcode.ErrUnavailable in the passthrough build.
func (t transcoders) Unavailable() error { return transcode.Unavailable() }
